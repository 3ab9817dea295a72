"""A backorder filled when stock arrives holds its units as the order's first reservation would
have: for as long as the allocation allows an unpaid order, and without end for a paid one. The
payment state is the order's canonical one, whatever the channel calls its statuses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import Reservation
from inventory.services import allocation_set
from tests.inventory.conftest import event
from tests.inventory.test_backorders import accept, order, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(stock, make_channel, staff, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """A WooCommerce-speaking web shop would say `on-hold`; canonical JSON passes it through."""
    web = make_channel(code="web")
    allocation_set(channel=web.channel, locations=["WH1"], reservation_ttl_minutes=30)
    web.ops = staff("operations")
    web.capture = django_capture_on_commit_callbacks
    return web


def test_a_backorder_of_an_unpaid_order_is_filled_with_the_allocations_time_limit(shop):
    unpaid = accept(shop, order("U-1", "2026-11-01T10:00:00Z", [("TEE", 2)], status="on-hold"))
    paid = accept(shop, order("P-1", "2026-11-02T10:00:00Z", [("TEE", 1)], status="processing"))
    assert not Reservation.objects.exists()  # no stock yet: two backorders

    before = timezone.now()
    send(shop, event("receipt", "TEE", "WH1", 3))

    expiry = dict(Reservation.objects.values_list("order_id", "expires_at"))
    assert set(expiry) == {unpaid, paid}
    assert expiry[paid] is None
    assert (
        before + timedelta(minutes=30) <= expiry[unpaid] <= timezone.now() + timedelta(minutes=30)
    )
