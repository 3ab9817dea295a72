"""The outbox across a real Celery worker on Redis: events leave after commit, each subscriber
handles each event once, and the correlation id rides along into the worker."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from retailsync import events
from retailsync.celery import app as celery_app
from retailsync.correlation import get_correlation_id
from retailsync.events import event_dispatch
from retailsync.models import DomainEvent, EventReceipt
from tests.conftest import wait_for
from tests.orders.payloads import canonical_order

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

seen: list[tuple[str, int, str]] = []


def _remember(event: DomainEvent) -> None:
    seen.append((event.name, int(event.aggregate_id), get_correlation_id()))


@pytest.fixture
def subscriber() -> Iterator[str]:
    events.subscribe("order.accepted")(_remember)
    key = f"{_remember.__module__}.{_remember.__qualname__}"
    seen.clear()
    yield key
    events._subscribers["order.accepted"].pop(key, None)


def test_an_accepted_order_reaches_its_subscriber_on_the_worker_with_its_correlation_id(
    subscriber, worker, channel
):
    response = channel.post_order(canonical_order(), **{"X-Correlation-ID": "via-worker-1"})
    order_id = response.json()["id"]

    wait_for(lambda: EventReceipt.objects.filter(subscriber=subscriber).exists())

    receipt = EventReceipt.objects.get(subscriber=subscriber)
    assert receipt.correlation_id == "via-worker-1"
    assert seen == [("order.accepted", order_id, "via-worker-1")]
    wait_for(lambda: DomainEvent.objects.get(name="order.accepted").dispatched_at is not None)


def test_dispatching_an_event_again_does_not_run_a_subscriber_twice(subscriber, worker, channel):
    channel.post_order(canonical_order())
    wait_for(lambda: EventReceipt.objects.filter(subscriber=subscriber).exists())
    event = DomainEvent.objects.get(name="order.accepted")

    assert event_dispatch(event_id=event.pk) == 0
    celery_app.send_task("retailsync.tasks.events_dispatch", kwargs={"event_ids": [event.pk]})
    time.sleep(1.0)

    assert len(seen) == 1
    # One receipt per subscriber (inventory reserves on order.accepted too), none repeated.
    assert EventReceipt.objects.filter(event=event, subscriber=subscriber).count() == 1
    assert EventReceipt.objects.filter(event=event).count() == len(
        events.subscribers_for("order.accepted")
    )
