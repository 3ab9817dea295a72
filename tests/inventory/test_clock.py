"""The clock is passed down: a service given `now` stamps that time on everything it writes,
and on what the services it calls write (issue 10)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from inventory import reservations
from inventory.models import AvailabilityDirty, ChannelAllocation, Position
from inventory.services import (
    EventInput,
    allocation_set,
    event_batch_queue,
    event_batch_run,
    stock_events_apply,
)
from retailsync.core.models import DomainEvent
from tests.orders.payloads import canonical_order

pytestmark = pytest.mark.django_db

THEN = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
LATER = datetime(2026, 3, 1, 9, 45, tzinfo=UTC)


def receipt(event_id: str) -> EventInput:
    return EventInput(event_id, "wms", "receipt", "TEE", "WH1", 4, THEN)


def test_stock_events_mark_items_for_the_refresh_at_the_time_given(stock):
    stock_events_apply(events=[receipt("c1")], now=THEN)

    assert set(AvailabilityDirty.objects.values_list("marked_at", flat=True)) == {THEN}


def test_stock_events_record_their_event_and_new_positions_at_the_time_given(stock):
    stock_events_apply(events=[receipt("c3")], now=THEN)

    [applied] = DomainEvent.objects.filter(name="stock.events_applied")
    assert applied.created_at == THEN
    # TEE had no stock at WH1: its position is made by the receipt, at the receipt's time.
    assert Position.objects.get(item__sku="TEE", location__code="WH1").updated_at == THEN


def test_a_reservation_under_locks_makes_positions_at_the_time_given(
    stock, make_channel, monkeypatch
):
    """The channel reserves from WH1 then WH2: both positions are locked, WH2's made for it,
    though all the stock is at WH1."""
    monkeypatch.setattr(reservations, "ONE_STATEMENT", False)
    web = make_channel(code="web")
    allocation_set(channel=web.channel, locations=["WH1", "WH2"], now=THEN)
    stock_events_apply(events=[receipt("c4")], now=THEN)
    order = canonical_order(
        fulfilment_location="",
        lines=[{"sku": "TEE", "quantity": 1, "unit_price": "10.00", "discount": "0", "tax": "0"}],
        shipping={"amount": "0", "discount": "0", "tax": "0"},
        total="10.00",
        payments=[],
    )
    web.post_order(order)  # its acceptance waits in the outbox: this test reserves it
    accepted = DomainEvent.objects.get(name="order.accepted")

    [made] = reservations.order_reserve(payload=accepted.payload, now=LATER)

    assert (made.quantity, made.location.code, made.created_at) == (1, "WH1", LATER)
    assert Position.objects.get(item__sku="TEE", location__code="WH2").updated_at == LATER
    assert Position.objects.get(item__sku="TEE", location__code="WH1").updated_at == LATER


def test_allocation_rules_stamp_and_mark_at_the_time_given(stock, make_channel):
    web = make_channel(code="web")

    allocation_set(channel=web.channel, locations=["WH1"], now=THEN)

    assert ChannelAllocation.objects.get(channel=web.channel).updated_at == THEN
    assert set(AvailabilityDirty.objects.values_list("marked_at", flat=True)) == {THEN}


def test_a_batch_is_queued_and_finished_at_the_times_given(stock):
    batch = event_batch_queue(events=[receipt("c2")], now=THEN)

    done = event_batch_run(batch_id=batch.pk, now=LATER)

    assert (done.status, done.applied) == ("done", 1)
    assert (done.created_at, done.finished_at) == (THEN, LATER)
    assert set(AvailabilityDirty.objects.values_list("marked_at", flat=True)) == {LATER}
