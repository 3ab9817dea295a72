"""The outbox relay: waiting events to their subscribers, a chunk per transaction, in parallel.

A run claims a chunk of waiting events with `FOR UPDATE SKIP LOCKED`, hands it to every
subscriber of each event's name, marks what all of them handled as dispatched and commits, then
claims the next chunk: any number of runs (Celery workers) drain the table side by side, each on
events no other run holds. A chunk is one transaction, not one per event: per event that was a
commit (a WAL flush) and four round trips, most of the relay's time.

Which events a chunk takes:
- lanes in turn: the oldest waiting event of every lane (`DomainEvent.lane`, an order's SKUs)
  before the second of any, so a hot SKU's backlog is worked through beside the other SKUs'
  orders instead of ahead of them;
- per aggregate in order: an event is not taken while an earlier event of its aggregate waits
  (an order's cancellation never overtakes its acceptance in another run, nor runs before an
  acceptance whose subscriber failed);
- not one this run tried already: an event whose subscriber failed is logged and left waiting
  for the next run or the outbox sweep, and the events after it go on.

Each subscriber runs in a savepoint with its receipts (`EventReceipt`, unique per event and
subscriber): a subscriber that raises loses only its own work, the others' stands. One that
takes chunks (`subscribe_many`) and raises is given the chunk again one event at a time.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from django.db import connection, transaction
from django.utils import timezone

from .correlation import set_correlation_id
from .db import insert_new
from .events import EVENT_FIELDS, Subscriber, subscribers_for
from .models import DomainEvent, EventReceipt

logger = logging.getLogger(__name__)

# Events per chunk (per transaction). Larger chunks amortize more, but hold the rows a
# subscriber locks (a hot SKU's position) longer, and a smaller backlog is spread over fewer
# runs.
RELAY_CHUNK = 500
# Candidates ranked per claim, in chunks: room for the chunks that other runs hold, and for
# events held behind an earlier one of their aggregate.
CLAIM_WINDOW = 4

_COLUMNS = ("id", *EVENT_FIELDS)


@cache
def _claim_sql(before: bool) -> str:
    table = connection.ops.quote_name(DomainEvent._meta.db_table)
    columns = ", ".join(f"e.{connection.ops.quote_name(c)}" for c in _COLUMNS)
    return f"""
WITH turn AS (
    SELECT id, row_number() OVER (PARTITION BY lane ORDER BY id) AS turn
    FROM {table}
    WHERE dispatched_at IS NULL AND NOT (id = ANY(%(tried)s::bigint[]))
          {"AND created_at < %(before)s" if before else ""}
    ORDER BY turn, id
    LIMIT %(window)s
)
SELECT {columns}
FROM turn t JOIN {table} e ON e.id = t.id
WHERE e.dispatched_at IS NULL
  AND NOT EXISTS (
      SELECT FROM {table} b
      WHERE b.aggregate_type = e.aggregate_type AND b.aggregate_id = e.aggregate_id
        AND b.id < e.id AND b.dispatched_at IS NULL)
ORDER BY t.turn, t.id
LIMIT %(chunk)s
FOR UPDATE OF e SKIP LOCKED
"""  # noqa: S608  (table and column names only)


def _claim(created_before: datetime | None, tried: Sequence[int], size: int) -> list[DomainEvent]:
    """Lock and return the next chunk (call in a transaction), in the order it is to be run."""
    if connection.vendor != "postgresql":
        # SQLite (the demo) runs tasks in-process, one at a time: id order is all it needs.
        waiting = DomainEvent.objects.filter(dispatched_at__isnull=True).exclude(pk__in=tried)
        if created_before is not None:
            waiting = waiting.filter(created_at__lt=created_before)
        return list(waiting.order_by("pk")[:size])
    params = {"tried": list(tried), "window": CLAIM_WINDOW * size, "chunk": size}
    if created_before is not None:
        params["before"] = created_before
    return list(DomainEvent.objects.raw(_claim_sql(created_before is not None), params))


def _locked(event_ids: Sequence[int]) -> list[DomainEvent]:
    """These events, waiting for a run that holds any of them (call in a transaction)."""
    return list(DomainEvent.objects.select_for_update().filter(pk__in=event_ids).order_by("pk"))


@dataclass(slots=True)
class _Outcome:
    ran: int = 0  # subscriber runs that happened now
    failed: set[int] = field(default_factory=set)  # events a subscriber failed on


def _dispatch(events: Sequence[DomainEvent], now: datetime) -> _Outcome:
    """Every subscriber of each event that has not handled it yet; then the events that all
    of them have handled are marked dispatched (call in the transaction that locked them)."""
    outcome = _Outcome()
    by_name: dict[str, list[DomainEvent]] = defaultdict(list)
    for event in events:
        by_name[event.name].append(event)
    for name, group in by_name.items():
        for subscriber in subscribers_for(name).values():
            if subscriber.many and len(group) > 1 and _run(subscriber, group, now, outcome):
                continue
            for event in group:
                _run(subscriber, [event], now, outcome)
    done = [e.pk for e in events if e.pk not in outcome.failed]
    if done:
        DomainEvent.objects.filter(pk__in=done, dispatched_at__isnull=True).update(
            dispatched_at=now
        )
    return outcome


def _run(subscriber: Subscriber, events: list[DomainEvent], now: datetime, into: _Outcome) -> bool:
    """One subscriber on these events, with their receipts, in a savepoint; False if it raised
    (logged; a single event is then counted as failed)."""
    try:
        with transaction.atomic():
            fresh = _receipts_take(subscriber.key, events, now)
            if fresh:
                # A chunk's events each carry their own id; one alone sets it for its logs.
                set_correlation_id(fresh[0].correlation_id if len(fresh) == 1 else "")
                subscriber.handle(fresh)
    except Exception:
        ids = [e.pk for e in events]
        logger.exception("subscriber %s failed on events %s", subscriber.key, ids[:20])
        if len(events) == 1:
            into.failed.add(events[0].pk)
        return False
    into.ran += len(fresh)
    return True


def _receipts_take(key: str, events: Sequence[DomainEvent], now: datetime) -> list[DomainEvent]:
    """Write the subscriber's receipts for these events; the events it had not handled yet."""
    new = insert_new(
        EventReceipt,
        ("event", "subscriber", "handled_at", "correlation_id"),
        [(e.pk, key, now, e.correlation_id) for e in events],
        unique=("event", "subscriber"),
        key="event",
    )
    return [e for e in events if e.pk in new]


def events_dispatch_waiting(
    *,
    created_before: datetime | None = None,
    ask_for_help: Callable[[], None] | None = None,
    chunk: int | None = None,
) -> int:
    """Dispatch waiting events (created before `created_before`, if given), a chunk per
    transaction, until none is left that this run may take. Returns how many subscriber runs
    happened. After a full chunk `ask_for_help` is called (the relay asks for another run,
    which a free worker takes up beside this one)."""
    chunk = chunk or RELAY_CHUNK
    ran = 0
    tried: list[int] = []
    while True:
        with transaction.atomic():
            events = _claim(created_before, tried, chunk)
            if not events:
                return ran
            outcome = _dispatch(events, timezone.now())
        ran += outcome.ran
        tried += outcome.failed
        if ask_for_help is not None and len(events) == chunk:
            ask_for_help()


def events_dispatch(*, event_ids: Sequence[int]) -> int:
    """Dispatch these events now, dispatched already or not (replay, or by hand): every
    subscriber that has not handled one yet runs. Returns how many ran."""
    with transaction.atomic():
        return _dispatch(_locked(event_ids), timezone.now()).ran
