"""The clock is the caller's: a delivery received at `now` stamps every row it writes with that
time (the message, the order, what a person is told), on each of the pipeline's paths."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from orders.models import Order
from orders.services import LineRequest, order_cancel, order_receive, shipment_create
from retailsync.core.models import ExceptionItem, InboundMessage
from tests.orders.payloads import canonical_order

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def receive(channel, payload, kind: str = "order"):  # type: ignore[no-untyped-def]
    return order_receive(
        channel=channel.channel,
        kind=kind,
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        correlation_id="clock-1",
        now=NOW,
    )


def test_a_new_order_in_one_statement_is_stamped_with_the_callers_time(channel):
    message, [outcome] = receive(channel, canonical_order())

    stored = InboundMessage.objects.get(pk=message.pk)
    order = Order.objects.get(pk=outcome.order_id)
    assert (stored.received_at, stored.processed_at) == (NOW, NOW)
    assert (order.created_at, order.updated_at) == (NOW, NOW)


def test_an_update_and_a_batch_are_stamped_with_the_callers_time(channel):
    receive(channel, canonical_order())
    message, [outcome] = receive(channel, canonical_order(order_number="#1001-B"))
    batch, _ = receive(channel, {"orders": [canonical_order(external_id="B-1")]}, "order_batch")

    for pk in (message.pk, batch.pk):
        stored = InboundMessage.objects.get(pk=pk)
        assert (stored.received_at, stored.processed_at) == (NOW, NOW)
    assert Order.objects.get(pk=outcome.order_id).updated_at == NOW
    assert Order.objects.get(external_id="B-1").created_at == NOW


def test_a_rejection_is_stamped_with_the_callers_time(channel):
    message, [outcome] = receive(channel, canonical_order(total="1.00"))

    assert outcome.status == "rejected"
    stored = InboundMessage.objects.get(pk=message.pk)
    assert (stored.received_at, stored.processed_at) == (NOW, NOW)
    item = ExceptionItem.objects.get(kind="order_rejected")
    assert (item.created_at, item.last_seen_at) == (NOW, NOW)


def test_a_broken_pipeline_keeps_the_message_stamped_with_the_callers_time(channel, monkeypatch):
    def broken(payload, headers):  # type: ignore[no-untyped-def]
        raise RuntimeError("adapter bug")

    monkeypatch.setattr("orders.adapters.canonical.parse", broken)

    with pytest.raises(RuntimeError):
        receive(channel, canonical_order())

    stored = InboundMessage.objects.get()
    assert (stored.status, stored.received_at, stored.processed_at) == ("failed", NOW, NOW)
    assert ExceptionItem.objects.get(kind="ingest_failed").created_at == NOW


def test_a_shipment_and_a_cancellation_are_stamped_with_the_callers_time(channel):
    _, [outcome] = receive(channel, canonical_order())
    assert outcome.order_id is not None

    shipment, _ = shipment_create(
        order_id=outcome.order_id,
        location="WH1",
        lines=[LineRequest(quantity=1, sku="MUG-WHT")],
        now=NOW,
    )
    order, _ = order_cancel(order_id=outcome.order_id, now=NOW)

    assert (shipment.shipped_at, shipment.created_at) == (NOW, NOW)
    assert (order.updated_at, order.cancelled_at) == (NOW, NOW)
    assert {c.at for c in order.changes.all()} == {NOW}
