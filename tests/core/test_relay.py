"""The outbox relay on PostgreSQL: runs side by side take disjoint chunks, each subscriber
handles each event once, an aggregate's events keep their order across runs, and a failing
subscriber is left for the sweep without holding up anything else."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from django.db import connection
from django.utils import timezone

from retailsync.core import events, relay
from retailsync.core.events import NewEvent, events_record
from retailsync.core.models import DomainEvent, EventFailure, EventReceipt
from retailsync.core.relay import events_dispatch_waiting
from retailsync.core.tasks import events_dispatch_pending
from tests.conftest import events_held

pytestmark = pytest.mark.django_db(transaction=True)

handled: list[tuple[int, int, float, float]] = []  # event, thread, started, finished
failing: set[int] = set()  # aggregate ids whose events make _picky raise
chunks: list[list[int]] = []  # what _picky_many was handed, call by call
pace = {"seconds": 0.0}  # how long _record takes per event


def _record(event: DomainEvent) -> None:
    started = time.monotonic()
    time.sleep(pace["seconds"])
    handled.append((event.pk, threading.get_ident(), started, time.monotonic()))


def _picky(event: DomainEvent) -> None:
    if int(event.aggregate_id) in failing:
        raise RuntimeError(f"cannot handle {event.aggregate_id}")


def _picky_many(batch: list[DomainEvent]) -> None:
    chunks.append([e.pk for e in batch])
    for event in batch:
        _picky(event)


def _key(handler: object) -> str:
    return f"{handler.__module__}.{handler.__qualname__}"  # type: ignore[attr-defined]


@pytest.fixture
def subscribers() -> Iterator[None]:
    events.subscribe("demo.happened")(_record)
    events.subscribe("demo.happened")(_picky)
    events.subscribe_many("demo.happened")(_picky_many)
    events.subscribe("demo.undone")(_record)
    handled.clear()
    failing.clear()
    chunks.clear()
    pace["seconds"] = 0.0
    yield
    for name, handler in (
        ("demo.happened", _record),
        ("demo.happened", _picky),
        ("demo.happened", _picky_many),
        ("demo.undone", _record),
    ):
        events._subscribers[name].pop(_key(handler), None)


def waiting(*names_and_ids: tuple[str, int]) -> list[int]:
    """Events recorded and committed, with no relay run yet (the request is purged)."""
    with events_held():
        rows = events_record([NewEvent(name, "thing", n, {"n": n}) for name, n in names_and_ids])
    return [row.pk for row in rows]


def in_parallel(*runs: object) -> list[int]:
    """Each callable in its own thread (own database connection), started together."""
    barrier = threading.Barrier(len(runs))
    results: list[int] = [0] * len(runs)
    errors: list[BaseException] = []

    def run(i: int, fn) -> None:  # type: ignore[no-untyped-def]
        try:
            barrier.wait()
            results[i] = fn()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    return results


def test_two_relay_runs_at_once_share_the_work_and_each_event_reaches_each_subscriber_once(
    subscribers, monkeypatch
):
    monkeypatch.setattr(relay, "RELAY_CHUNK", 20)
    pace["seconds"] = 0.002
    ids = waiting(*(("demo.happened", n) for n in range(300)))

    first, second = in_parallel(events_dispatch_waiting, events_dispatch_waiting)

    # Both runs dispatched events: neither waited for the other to finish.
    assert first > 0 and second > 0
    assert first + second == 300 * 3  # three subscribers of demo.happened
    assert sorted(pk for pk, *_ in handled) == ids  # each event once
    assert len({thread for _, thread, *_ in handled}) == 2
    for key in (_key(_record), _key(_picky), _key(_picky_many)):
        assert EventReceipt.objects.filter(subscriber=key).count() == 300
    assert not DomainEvent.objects.filter(dispatched_at__isnull=True).exists()


def test_a_later_event_of_an_aggregate_waits_until_the_earlier_one_is_through(
    subscribers, monkeypatch
):
    """One run takes thing 1's first event and is slow with it; the other run, at the same
    time, must not take thing 1's second event before the first is committed (as an order's
    cancellation must not release before its acceptance has reserved)."""
    monkeypatch.setattr(relay, "RELAY_CHUNK", 1)
    pace["seconds"] = 0.3
    happened, undone = waiting(("demo.happened", 1), ("demo.undone", 1))

    in_parallel(events_dispatch_waiting, events_dispatch_waiting)

    times = {pk: (started, finished) for pk, _, started, finished in handled}
    assert set(times) == {happened, undone}
    assert times[undone][0] >= times[happened][1]  # started after the first one finished
    assert not DomainEvent.objects.filter(dispatched_at__isnull=True).exists()


def test_a_failing_subscriber_leaves_only_its_events_for_the_sweep(subscribers, monkeypatch):
    failing.add(3)
    ids = waiting(*(("demo.happened", n) for n in range(1, 6)), ("demo.undone", 3))
    poisoned, later = ids[2], ids[5]

    events_dispatch_waiting()

    # The chunk went to the many-subscriber at once, then one event at a time to find the bad one.
    assert chunks[0] == ids[:5]
    assert sorted(pk for [pk] in chunks[1:]) == ids[:5]
    # The other subscriber handled every event, the failing one too; thing 3's later event
    # waits behind its failed first one.
    assert sorted(pk for pk, *_ in handled) == ids[:5]
    waiting_now = set(
        DomainEvent.objects.filter(dispatched_at__isnull=True).values_list("pk", flat=True)
    )
    assert waiting_now == {poisoned, later}
    for key in (_key(_picky), _key(_picky_many)):
        assert not EventReceipt.objects.filter(subscriber=key, event_id=poisoned).exists()
        assert EventReceipt.objects.filter(subscriber=key).count() == 4

    failing.clear()
    DomainEvent.objects.filter(pk__in=waiting_now).update(
        created_at=DomainEvent.objects.get(pk=poisoned).created_at.replace(year=2020)
    )
    # The failed event waits out its backoff (retailsync.core.failures) before the sweep retries it.
    assert EventFailure.objects.filter(event_id=poisoned).count() == 2  # _picky, _picky_many
    EventFailure.objects.update(retry_at=timezone.now())
    assert events_dispatch_pending() == 2 + 1  # the two that failed, then thing 3's later one

    assert sorted(pk for pk, *_ in handled) == sorted([*ids[:5], later])  # _record: once each
    assert not DomainEvent.objects.filter(dispatched_at__isnull=True).exists()


def test_events_waiting_behind_a_failed_one_do_not_hide_the_rest_of_the_backlog(
    subscribers, monkeypatch
):
    """More events wait behind thing 1's failed first event than one ranking holds: the run
    looks further and still dispatches thing 2's."""
    monkeypatch.setattr(relay, "RELAY_CHUNK", 2)
    monkeypatch.setattr(relay, "CLAIM_WINDOW", 1)
    failing.add(1)
    first, *behind, other = waiting(
        ("demo.happened", 1), *[("demo.undone", 1)] * 4, ("demo.happened", 2)
    )

    events_dispatch_waiting()

    still = set(DomainEvent.objects.filter(dispatched_at__isnull=True).values_list("pk", flat=True))
    assert still == {first, *behind}
    assert DomainEvent.objects.get(pk=other).dispatched_at is not None
