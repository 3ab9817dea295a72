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
  for the next run or the outbox sweep, and the events after it go on;
- not one whose subscriber failed lately (`retailsync.core.failures`): it waits out its backoff, and
  after the last try it is poison, an exception for a person, left until it is replayed.

Each subscriber runs in a savepoint with its receipts (`EventReceipt`, unique per event and
subscriber): a subscriber that raises loses only its own work, the others' stands. One that
takes chunks (`subscribe_many`) and raises is given the chunk again one event at a time.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from .correlation import set_correlation_id
from .db import insert_new
from .events import Subscriber, subscribers_for
from .failures import failure_record, failures_clear
from .models import DomainEvent, EventFailure, EventReceipt

logger = logging.getLogger(__name__)

# Events per chunk (per transaction). Larger chunks amortize more, but hold the rows a
# subscriber locks (a hot SKU's position) longer, and a smaller backlog is spread over fewer
# runs.
RELAY_CHUNK = 500
# Seconds a relay waits after a chunk that was not full, before it takes the next: while orders
# come in one by one, a chunk then holds what arrived meanwhile (dozens at hundreds a second)
# instead of one or two, each paying a transaction and a handful of round trips.
RELAY_PACE = 0.05
# Events ranked at a time, in chunks: a run takes its next chunks from one ranking (ranking
# reads every waiting event), and ranks again when they run out or fall short.
CLAIM_WINDOW = 4

# In the model's field order, so that a row becomes an event the way a query's rows do.
_COLUMNS = tuple(f.attname for f in DomainEvent._meta.concrete_fields)


@cache
def _rank_sql(before: bool) -> str:
    """The waiting events in the order they are to be taken: lanes in turn."""
    table = connection.ops.quote_name(DomainEvent._meta.db_table)
    failures = connection.ops.quote_name(EventFailure._meta.db_table)
    return f"""
SELECT w.id FROM {table} w
WHERE w.dispatched_at IS NULL AND NOT (w.id = ANY(%(tried)s::bigint[]))
      {"AND w.created_at < %(before)s" if before else ""}
      AND NOT EXISTS (
          SELECT FROM {failures} f
          WHERE f.event_id = w.id AND (f.poisoned_at IS NOT NULL OR f.retry_at > %(now)s))
ORDER BY row_number() OVER (PARTITION BY w.lane ORDER BY w.id), w.id
LIMIT %(window)s
"""  # noqa: S608  (table names only)


@cache
def _take_sql() -> str:
    """The next chunk of ranked events that no other run holds and no earlier event of their
    aggregate waits for, locked and marked dispatched (a failure unmarks it)."""
    table = connection.ops.quote_name(DomainEvent._meta.db_table)
    columns = ", ".join(f"e.{connection.ops.quote_name(c)}" for c in _COLUMNS)
    return f"""
UPDATE {table} e SET dispatched_at = %(now)s
FROM (
    SELECT c.id, c.n
    FROM unnest(%(ids)s::bigint[]) WITH ORDINALITY AS c(id, n)
    JOIN {table} w ON w.id = c.id
    WHERE w.dispatched_at IS NULL
      AND NOT EXISTS (
          SELECT FROM {table} b
          WHERE b.aggregate_type = w.aggregate_type AND b.aggregate_id = w.aggregate_id
            AND b.id < w.id AND b.dispatched_at IS NULL)
    ORDER BY c.n
    LIMIT %(chunk)s
    FOR UPDATE OF w SKIP LOCKED
) c
WHERE e.id = c.id
RETURNING c.n, {columns}
"""  # noqa: S608  (table and column names only)


@dataclass(slots=True)
class _Claims:
    """One run's way through the waiting events."""

    created_before: datetime | None
    tried: list[int] = field(default_factory=list)  # events a subscriber failed on
    ranked: list[int] = field(default_factory=list)  # what is left of the last ranking

    def take(self, size: int, now: datetime) -> list[DomainEvent]:
        """Lock, mark dispatched and return the next chunk (call in a transaction), in the
        order it is to be run."""
        if connection.vendor != "postgresql":
            # SQLite (the demo) runs tasks in-process, one at a time: id order is all it needs.
            waiting = DomainEvent.objects.filter(dispatched_at__isnull=True)
            if self.created_before is not None:
                waiting = waiting.filter(created_at__lt=self.created_before)
            resting = EventFailure.objects.filter(
                Q(poisoned_at__isnull=False) | Q(retry_at__gt=now)
            ).values("event_id")
            waiting = waiting.exclude(pk__in=self.tried).exclude(pk__in=resting)
            events = list(waiting.order_by("pk")[:size])
            DomainEvent.objects.filter(pk__in=[e.pk for e in events]).update(dispatched_at=now)
            return events
        if self.ranked:
            rows = self._take(size, now)
            if len(rows) == size:
                return rows
            if rows:
                self.ranked = []  # the ranking ran out, or others hold its rest: rank again
                return rows
        window = CLAIM_WINDOW * size
        while True:
            self.ranked = self._rank(window, now)
            full = len(self.ranked) == window
            rows = self._take(size, now)
            if len(rows) < size:
                self.ranked = []
            if rows or not full:
                return rows
            # Every ranked event is held by other runs or waits behind an earlier event of
            # its aggregate; there may be more to take beyond them.
            window *= 2

    def _rank(self, window: int, now: datetime) -> list[int]:
        params: dict[str, Any] = {"tried": _int_array(self.tried), "window": window, "now": now}
        if self.created_before is not None:
            params["before"] = self.created_before
        with connection.cursor() as cursor:
            cursor.execute(_rank_sql(self.created_before is not None), params)
            return [row[0] for row in cursor.fetchall()]

    def _take(self, size: int, now: datetime) -> list[DomainEvent]:
        with connection.cursor() as cursor:
            cursor.execute(_take_sql(), {"ids": _int_array(self.ranked), "chunk": size, "now": now})
            rows = sorted(cursor.fetchall())
        if rows:
            del self.ranked[: rows[-1][0]]  # up to the last taken: taken, held, or blocked
        payload = _COLUMNS.index("payload")
        events = []
        for _, *values in rows:
            if isinstance(values[payload], str):  # Django has psycopg hand jsonb over as text
                values[payload] = json.loads(values[payload])
            events.append(DomainEvent.from_db(connection.alias, _COLUMNS, values))
        return events


def _locked(event_ids: Sequence[int]) -> list[DomainEvent]:
    """These events, waiting for a run that holds any of them (call in a transaction)."""
    return list(DomainEvent.objects.select_for_update().filter(pk__in=event_ids).order_by("pk"))


@dataclass(slots=True)
class _Outcome:
    ran: int = 0  # subscriber runs that happened now
    failed: set[int] = field(default_factory=set)  # events a subscriber failed on


def _dispatch(events: Sequence[DomainEvent], now: datetime) -> _Outcome:
    """Every subscriber of each event that has not handled it yet (call in the transaction
    that locked them)."""
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
    except Exception as exc:
        ids = [e.pk for e in events]
        logger.exception("subscriber %s failed on events %s", subscriber.key, ids[:20])
        if len(events) == 1:
            into.failed.add(events[0].pk)
            error = f"{type(exc).__name__}: {exc}"
            failure_record(event=events[0], subscriber=subscriber.key, error=error, now=now)
        return False
    into.ran += len(fresh)
    return True


def _receipts_take(key: str, events: Sequence[DomainEvent], now: datetime) -> list[DomainEvent]:
    """Write the subscriber's receipts for these events; the events it had not handled yet."""
    if connection.vendor != "postgresql":
        new: Iterable[int] = insert_new(
            EventReceipt,
            ("event", "subscriber", "handled_at", "correlation_id"),
            [(e.pk, key, now, e.correlation_id) for e in events],
            unique=("event", "subscriber"),
            key="event",
        )
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                _receipts_sql(), {"ids": _int_array(e.pk for e in events), "key": key, "now": now}
            )
            new = [row[0] for row in cursor.fetchall()]
    handled = set(new)
    return [e for e in events if e.pk in handled]


@cache
def _receipts_sql() -> str:
    qn = connection.ops.quote_name
    receipts, events = qn(EventReceipt._meta.db_table), qn(DomainEvent._meta.db_table)
    return f"""
INSERT INTO {receipts} (event_id, subscriber, handled_at, correlation_id)
SELECT e.id, %(key)s, %(now)s, e.correlation_id FROM {events} e
WHERE e.id = ANY(%(ids)s::bigint[]) ORDER BY e.id
ON CONFLICT (event_id, subscriber) DO NOTHING
RETURNING event_id
"""  # noqa: S608  (table names only)


def _int_array(values: Iterable[int]) -> str:
    """An integer array as PostgreSQL's text form: psycopg's list adaptation inspects every
    element, which at thousands of ids a second showed in the relay's profile."""
    return "{" + ",".join(map(str, values)) + "}"


def events_dispatch_waiting(
    *,
    created_before: datetime | None = None,
    ask_for_help: Callable[[], None] | None = None,
    pace: float = 0.0,
) -> int:
    """Dispatch waiting events (created before `created_before`, if given), a chunk per
    transaction, until none is left that this run may take. Returns how many subscriber runs
    happened. After a full chunk `ask_for_help` is called (the relay asks for another run,
    which a free worker takes up beside this one); after a short one the run waits `pace`
    seconds, so that events still coming in are taken a few dozen at a time, not one by one."""
    chunk = RELAY_CHUNK
    ran = 0
    claims = _Claims(created_before)
    while True:
        with transaction.atomic():
            now = timezone.now()
            events = claims.take(chunk, now)
            if not events:
                return ran
            outcome = _dispatch(events, now)
            if outcome.failed:  # left waiting, for the next run or the sweep
                DomainEvent.objects.filter(pk__in=outcome.failed).update(dispatched_at=None)
            failures_clear(event_ids=[e.pk for e in events if e.pk not in outcome.failed], now=now)
        ran += outcome.ran
        claims.tried += outcome.failed
        if len(events) == chunk:
            if ask_for_help is not None:
                ask_for_help()
        elif pace:
            time.sleep(pace)  # let the next chunk gather: a chunk's cost is mostly per chunk


def events_dispatch(*, event_ids: Sequence[int]) -> int:
    """Dispatch these events now, dispatched already or not (replay, or by hand): every
    subscriber that has not handled one yet runs. Returns how many ran."""
    with transaction.atomic():
        now = timezone.now()
        events = _locked(event_ids)
        outcome = _dispatch(events, now)
        done = [e.pk for e in events if e.pk not in outcome.failed]
        DomainEvent.objects.filter(pk__in=done, dispatched_at__isnull=True).update(
            dispatched_at=now
        )
        failures_clear(event_ids=done, now=now)
    return outcome.ran
