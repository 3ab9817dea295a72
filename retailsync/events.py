"""Domain events through a transactional outbox.

`events_record` writes events in the caller's transaction and, once that commits, asks for the
relay: one Celery task that dispatches every event still waiting, in id order. The request is
coalesced (`retailsync.coalesce`): while one waits in the broker, a commit asks for nothing more,
so a writer pays one Redis round trip instead of publishing a task per transaction (building the
Celery message was the single largest cost of ingesting an order). Each subscriber runs in its
own transaction together with an `EventReceipt`, so a subscriber handles an event exactly once
however often dispatch is retried. Subscribers are registered with `@subscribe("order.accepted")`
in an app's `subscribers.py`, loaded at start-up.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .coalesce import task_request
from .correlation import ensure_correlation_id, set_correlation_id
from .db import insert_returning, values_of
from .models import DomainEvent, EventReceipt

logger = logging.getLogger(__name__)

Handler = Callable[[DomainEvent], None]
_subscribers: dict[str, dict[str, Handler]] = defaultdict(dict)


def subscribe(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _subscribers[name][f"{handler.__module__}.{handler.__qualname__}"] = handler
        return handler

    return register


def subscribers_for(name: str) -> dict[str, Handler]:
    return dict(_subscribers.get(name, {}))


def event_dispatched_at(name: str, now: datetime) -> datetime | None:
    """An event nobody listens to has nothing to dispatch: it is recorded as dispatched."""
    return None if subscribers_for(name) else now


@dataclass(frozen=True, slots=True)
class NewEvent:
    name: str
    aggregate_type: str
    aggregate_id: str | int
    payload: dict[str, Any]


def events_record(events: Iterable[NewEvent], *, correlation_id: str = "") -> list[DomainEvent]:
    """Write events in the current transaction; dispatch them after it commits."""
    correlation_id = correlation_id or ensure_correlation_id()
    now = timezone.now()
    rows = [
        DomainEvent(
            name=e.name,
            aggregate_type=e.aggregate_type,
            aggregate_id=str(e.aggregate_id),
            payload=e.payload,
            correlation_id=correlation_id,
            created_at=now,
            dispatched_at=event_dispatched_at(e.name, now),
        )
        for e in events
    ]
    ids = insert_returning(
        DomainEvent, _EVENT_FIELDS, (values_of(row, _EVENT_FIELDS) for row in rows)
    )
    for row, pk in zip(rows, ids, strict=True):
        row.pk = pk
    if any(row.dispatched_at is None for row in rows):
        transaction.on_commit(events_relay_request)
    return rows


_EVENT_FIELDS = (
    "name",
    "aggregate_type",
    "aggregate_id",
    "payload",
    "correlation_id",
    "created_at",
    "dispatched_at",
)


def event_record(
    name: str,
    aggregate_type: str,
    aggregate_id: str | int,
    payload: dict[str, Any],
    *,
    correlation_id: str = "",
) -> DomainEvent:
    return events_record(
        [NewEvent(name, aggregate_type, aggregate_id, payload)], correlation_id=correlation_id
    )[0]


def events_relay_request() -> None:
    """Ask for a relay run (after commit); the events themselves wait in the table."""
    from .tasks import events_relay

    try:
        task_request(events_relay)
    except Exception:  # the broker is down: the periodic sweep will pick them up
        logger.exception("could not ask for the event relay; the sweep will dispatch the events")


def event_dispatch(*, event_id: int) -> int:
    """Run every subscriber that has not yet handled this event. Returns how many ran now."""
    event = DomainEvent.objects.filter(pk=event_id).first()
    if event is None:
        return 0
    ran = _subscribers_run(event)
    _dispatched([event.pk])
    return ran


def _subscribers_run(event: DomainEvent) -> int:
    set_correlation_id(event.correlation_id)
    ran = 0
    for key, handler in subscribers_for(event.name).items():
        with transaction.atomic():
            try:
                with transaction.atomic():
                    EventReceipt.objects.create(
                        event=event, subscriber=key, correlation_id=event.correlation_id
                    )
            except IntegrityError:
                continue  # already handled: the receipt's unique constraint is the memory
            handler(event)
        ran += 1
    return ran


def _dispatched(event_ids: list[int]) -> None:
    if event_ids:
        DomainEvent.objects.filter(pk__in=event_ids, dispatched_at__isnull=True).update(
            dispatched_at=timezone.now()
        )


# Events read per query by the relay; each is marked dispatched once its chunk is through.
RELAY_CHUNK = 200
# pg_advisory_lock key of the relay: "retailsync.events" as a number.
RELAY_LOCK = 0x72657461696C_0001


@contextmanager
def _relay_lock() -> Iterator[None]:
    """One relay at a time: a second run waits for the first, then finds only what is left, so
    two runs never hand the same events to subscribers (their receipts would only make the
    second a costlier no-op). SQLite (the demo) runs tasks in-process, one at a time."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [RELAY_LOCK])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [RELAY_LOCK])


def events_dispatch_waiting(*, created_before: datetime | None = None) -> int:
    """Dispatch every event not yet dispatched (created before `created_before`, if given), in id
    order, a chunk at a time. Returns how many subscriber runs happened.

    An event whose subscriber fails is logged and left waiting, for the sweep to try again; the
    events after it are not held up. An event committed while this runs, with an id below one
    already passed, asked for another run when it committed."""
    ran = 0
    after = 0
    with _relay_lock():
        while True:
            waiting = DomainEvent.objects.filter(dispatched_at__isnull=True, pk__gt=after)
            if created_before is not None:
                waiting = waiting.filter(created_at__lt=created_before)
            chunk = list(waiting.order_by("pk")[:RELAY_CHUNK])
            if not chunk:
                return ran
            done = []
            for event in chunk:
                try:
                    ran += _subscribers_run(event)
                except Exception:
                    logger.exception("dispatch of event %s failed; the sweep will retry", event.pk)
                    continue
                done.append(event.pk)
            _dispatched(done)
            after = chunk[-1].pk
