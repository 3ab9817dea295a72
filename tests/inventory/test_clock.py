"""The clock is passed down: a service given `now` stamps that time on everything it writes,
and on what the services it calls write (issue 10)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from inventory.models import AvailabilityDirty, ChannelAllocation
from inventory.services import (
    EventInput,
    allocation_set,
    event_batch_queue,
    event_batch_run,
    stock_events_apply,
)

pytestmark = pytest.mark.django_db

THEN = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
LATER = datetime(2026, 3, 1, 9, 45, tzinfo=UTC)


def receipt(event_id: str) -> EventInput:
    return EventInput(event_id, "wms", "receipt", "TEE", "WH1", 4, THEN)


def test_stock_events_mark_items_for_the_refresh_at_the_time_given(stock):
    stock_events_apply(events=[receipt("c1")], now=THEN)

    assert set(AvailabilityDirty.objects.values_list("marked_at", flat=True)) == {THEN}


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
