"""The refund and chargeback rules of a batch with a channel: their statement's placeholders
are filled in the order they stand (the channel in the join, the batch, then the kinds)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order
from settlements.matching import batch_match
from tests.orders.payloads import canonical_order
from tests.settlements.pages import L, batch_make

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kind", ["refund", "chargeback"])
def test_a_reversal_is_linked_by_its_charge_s_reference_in_a_channel_s_batch(
    channel, django_capture_on_commit_callbacks, kind
):
    with django_capture_on_commit_callbacks(execute=True):
        order_id = channel.post_order(canonical_order()).json()["id"]
    batch = batch_make("po_rev", [L(kind, "-20.00")], channel=Order.objects.get().channel)
    batch.lines.update(related_ref="ch_3PqWeb1001")

    batch_match(batch, now=timezone.now())

    line = batch.lines.get()
    assert (line.order_id, line.rule, line.gross) == (order_id, kind, Decimal("-20.0000"))
