"""A subscriber that keeps failing on an event: tried a bounded number of times with backoff,
then the event is poison (one open `poison_event` exception naming the event, the subscriber and
the last error) and the sweep leaves it alone until a person replays it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from retailsync.core import events
from retailsync.core.events import NewEvent, events_record
from retailsync.core.models import DomainEvent, EventFailure, EventReceipt, ExceptionItem
from retailsync.core.relay import events_dispatch_waiting
from retailsync.core.services import user_create
from tests.conftest import events_held

pytestmark = pytest.mark.django_db(transaction=True)

calls: list[int] = []
broken = {"yes": True}


def _fragile(event: DomainEvent) -> None:
    calls.append(event.pk)
    if broken["yes"]:
        raise RuntimeError(f"the ledger is closed for {event.aggregate_id}")


def _steady(event: DomainEvent) -> None:
    pass


KEY = f"{_fragile.__module__}.{_fragile.__qualname__}"


@pytest.fixture
def fragile() -> Iterator[None]:
    events.subscribe("demo.poison")(_fragile)
    events.subscribe("demo.poison")(_steady)
    calls.clear()
    broken["yes"] = True
    yield
    events._subscribers["demo.poison"].pop(KEY, None)
    events._subscribers["demo.poison"].pop(f"{_steady.__module__}.{_steady.__qualname__}", None)


def _waiting(*ids: int) -> list[int]:
    with events_held():
        rows = events_record([NewEvent("demo.poison", "thing", n, {"n": n}) for n in ids])
    return [row.pk for row in rows]


def _backoff_over() -> None:
    """As if the backoff had run out (the sweep comes back later)."""
    EventFailure.objects.update(retry_at=timezone.now() - timedelta(seconds=1))


def _poison() -> list[ExceptionItem]:
    return list(ExceptionItem.objects.filter(kind="poison_event"))


def test_after_its_tries_an_event_is_one_poison_exception_and_the_sweep_stops(fragile, settings):
    settings.RETAILSYNC_EVENT_RETRY_TRIES = 3
    [bad] = _waiting(7)

    for _ in range(3):
        events_dispatch_waiting()
        _backoff_over()
    assert calls == [bad] * 3

    [item] = _poison()
    assert item.status == "open"
    assert item.object_type == "event" and item.object_id == str(bad)
    assert item.details["subscriber"] == KEY
    assert item.details["event"] == "demo.poison"
    assert item.details["tries"] == 3
    assert "the ledger is closed for 7" in item.details["last_error"]
    assert KEY in item.reason and str(bad) in item.reason

    for _ in range(5):  # more sweeps: it is left alone
        events_dispatch_waiting()
        _backoff_over()
    assert calls == [bad] * 3
    assert len(_poison()) == 1
    assert DomainEvent.objects.get(pk=bad).dispatched_at is None


def test_between_tries_the_event_waits_out_a_doubling_backoff(fragile, settings):
    settings.RETAILSYNC_EVENT_RETRY_BACKOFF_SECONDS = 30
    [bad] = _waiting(1)
    before = timezone.now()

    events_dispatch_waiting()
    events_dispatch_waiting()  # straight after: not yet
    assert calls == [bad]
    failure = EventFailure.objects.get(event_id=bad, subscriber=KEY)
    assert failure.tries == 1
    assert (
        timedelta(seconds=30)
        <= failure.retry_at - before
        <= timedelta(seconds=30) + (timezone.now() - before)
    )

    _backoff_over()
    start = timezone.now()
    events_dispatch_waiting()
    failure.refresh_from_db()
    assert calls == [bad, bad]
    assert failure.tries == 2
    assert (
        timedelta(seconds=60)
        <= failure.retry_at - start
        <= timedelta(seconds=60) + (timezone.now() - start)
    )
    assert _poison() == []


def test_a_replay_after_the_fix_dispatches_the_poison_event_and_resolves_the_exception(
    fragile, settings
):
    settings.RETAILSYNC_EVENT_RETRY_TRIES = 2
    [bad] = _waiting(1)
    for _ in range(2):
        events_dispatch_waiting()
        _backoff_over()
    [item] = _poison()

    # Replayed while still broken: it fails again, and stays poison.
    out = StringIO()
    call_command("replay", "--event", str(bad), stdout=out, stderr=StringIO())
    assert '"status": "failed"' in out.getvalue()
    item.refresh_from_db()
    assert item.status == "open" and item.occurrences == 2

    broken["yes"] = False
    out = StringIO()
    call_command("replay", "--event", str(bad), stdout=out, stderr=StringIO())

    assert '"status": "dispatched"' in out.getvalue()
    assert calls == [bad] * 4
    item.refresh_from_db()
    assert item.status == "resolved"
    assert DomainEvent.objects.get(pk=bad).dispatched_at is not None
    assert EventReceipt.objects.filter(event_id=bad, subscriber=KEY).count() == 1
    assert not EventFailure.objects.exists()


def test_an_event_that_goes_through_on_a_retry_forgets_its_failure(fragile):
    [bad] = _waiting(1)
    events_dispatch_waiting()
    assert EventFailure.objects.filter(event_id=bad).count() == 1

    broken["yes"] = False
    _backoff_over()
    events_dispatch_waiting()

    assert not EventFailure.objects.exists()
    assert _poison() == []
    assert DomainEvent.objects.get(pk=bad).dispatched_at is not None


def test_operations_replay_a_poison_event_from_the_admin(fragile, settings):
    settings.RETAILSYNC_EVENT_RETRY_TRIES = 1
    [bad] = _waiting(3)
    events_dispatch_waiting()
    [item] = _poison()
    failure = EventFailure.objects.get(event_id=bad)
    assert failure.poisoned_at is not None
    user, _ = user_create(username="olga", role="operations")
    client = Client()
    client.force_login(user)
    listing = client.get("/admin/core/eventfailure/")
    assert listing.status_code == 200 and KEY in listing.content.decode()

    broken["yes"] = False
    response = client.post(
        "/admin/core/eventfailure/", {"action": "replay", "_selected_action": [failure.pk]}
    )

    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "resolved"
    assert DomainEvent.objects.get(pk=bad).dispatched_at is not None
    assert calls == [bad, bad]


def test_the_events_waiting_behind_a_poison_event_go_once_it_is_replayed(fragile, settings):
    settings.RETAILSYNC_EVENT_RETRY_TRIES = 1
    first, second = _waiting(4, 4)  # one aggregate: the second waits behind the first
    events_dispatch_waiting()
    events_dispatch_waiting()
    assert calls == [first]
    assert DomainEvent.objects.get(pk=second).dispatched_at is None

    broken["yes"] = False
    call_command("replay", "--event", str(first), stdout=StringIO(), stderr=StringIO())

    assert calls == [first, first, second]  # the relay asked for after the replay took it
    assert not DomainEvent.objects.filter(dispatched_at__isnull=True).exists()
