"""The outbox across a real Celery worker on Redis: events leave after commit through the relay,
each subscriber handles each event once, and the correlation id rides along into the worker.
Runs side by side: tests/core/test_relay.py; a hot SKU's backlog: tests/inventory/test_dispatch.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from django.db import connection

from retailsync.celery import app as celery_app
from retailsync.core import coalesce, events
from retailsync.core.correlation import get_correlation_id
from retailsync.core.models import DomainEvent, EventReceipt
from retailsync.core.relay import events_dispatch
from retailsync.core.tasks import events_relay
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

    assert events_dispatch(event_ids=[event.pk]) == 0
    celery_app.send_task("retailsync.core.tasks.events_dispatch", kwargs={"event_ids": [event.pk]})
    time.sleep(1.0)

    assert len(seen) == 1
    # One receipt per subscriber (inventory reserves on order.accepted too), none repeated.
    assert EventReceipt.objects.filter(event=event, subscriber=subscriber).count() == 1
    assert EventReceipt.objects.filter(event=event).count() == len(
        events.subscribers_for("order.accepted")
    )


def test_many_orders_committed_are_all_dispatched_by_the_relay_each_subscriber_once(
    subscriber, worker, channel
):
    ids = [
        channel.post_order(canonical_order(external_id=f"RELAY-{n}")).json()["id"]
        for n in range(40)
    ]

    wait_for(lambda: not DomainEvent.objects.filter(dispatched_at__isnull=True).exists())

    assert sorted(order_id for _, order_id, _ in seen) == sorted(ids)
    assert EventReceipt.objects.filter(subscriber=subscriber).count() == 40
    for key in events.subscribers_for("order.accepted"):
        assert EventReceipt.objects.filter(subscriber=key).count() == 40


def test_a_commit_soon_after_its_process_asked_skips_asking_and_the_run_still_dispatches_it(
    subscriber, broker, channel, monkeypatch
):
    """The window is widened to seconds so that the order of things is certain: A asks, the
    relay takes the request and dispatches A, then B commits within the window and asks
    nothing; the relay's reading after its linger finds B."""
    monkeypatch.setattr(coalesce, "ASK_AGAIN_AFTER", 1.5)
    monkeypatch.setattr(coalesce, "LINGER", 3.0)
    monkeypatch.setattr(coalesce, "_asked_at", {})
    a = channel.post_order(canonical_order(external_id="WINDOW-A")).json()["id"]
    results: list[int] = []

    def relay() -> None:
        try:
            results.append(events_relay.run())  # as a worker would, without the broker
        finally:
            connection.close()

    run = threading.Thread(target=relay)
    run.start()
    wait_for(lambda: [order_id for _, order_id, _ in seen] == [a], seconds=5)
    b = channel.post_order(canonical_order(external_id="WINDOW-B")).json()["id"]
    run.join(10)

    assert celery_app.control.purge() == 1  # A's request only: B did not ask
    assert [order_id for _, order_id, _ in seen] == [a, b]
    assert not DomainEvent.objects.filter(dispatched_at__isnull=True).exists()
