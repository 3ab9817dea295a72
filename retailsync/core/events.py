"""Domain events through a transactional outbox.

`events_record` writes events in the caller's transaction and, once that commits, asks for the
relay (`retailsync.core.relay`), a Celery task that dispatches what is waiting. The request is
coalesced (`retailsync.core.coalesce`): while one waits in the broker, a commit asks for nothing more,
so a writer pays one Redis round trip instead of publishing a task per transaction (building the
Celery message was the single largest cost of ingesting an order).

Subscribers are registered in an app's `subscribers.py`, loaded at start-up: `@subscribe(name)`
for a handler of one event, `@subscribe_many(name)` for one that takes a chunk of events at once
(set-based work: one statement reserves a chunk of orders). Each subscriber's work is committed
together with an `EventReceipt` per event, so it handles an event exactly once however often
dispatch is retried.

An event names its `lane`, what it contends for (an order's SKUs): the relay serves lanes in
turn, so the backlog of one hot SKU never holds another SKU's orders behind it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from .coalesce import task_request
from .correlation import ensure_correlation_id
from .db import insert_returning, values_of
from .models import DomainEvent

logger = logging.getLogger(__name__)

Handler = Callable[[DomainEvent], None]
ManyHandler = Callable[[Sequence[DomainEvent]], None]


@dataclass(frozen=True, slots=True)
class Subscriber:
    key: str  # the receipts' name for it: module.qualname
    handle: ManyHandler
    many: bool  # takes a chunk at once; else `handle` gets one event at a time


_subscribers: dict[str, dict[str, Subscriber]] = defaultdict(dict)


def _register(name: str, handler: Callable[..., None], many: bool) -> None:
    key = f"{handler.__module__}.{handler.__qualname__}"
    handle: ManyHandler = handler if many else (lambda events: handler(events[0]))
    _subscribers[name][key] = Subscriber(key, handle, many)


def subscribe(name: str) -> Callable[[Handler], Handler]:
    """A handler of one event at a time, each in its own transaction with its receipt."""

    def register(handler: Handler) -> Handler:
        _register(name, handler, many=False)
        return handler

    return register


def subscribe_many(name: str) -> Callable[[ManyHandler], ManyHandler]:
    """A handler of a chunk of events (in id order) at once, in one transaction with their
    receipts. Each event carries its own correlation id, which the handler must use. If it
    raises, the chunk is handed to it again one event at a time, so only the failing events
    are left for the sweep."""

    def register(handler: ManyHandler) -> ManyHandler:
        _register(name, handler, many=True)
        return handler

    return register


def subscribers_for(name: str) -> dict[str, Subscriber]:
    return dict(_subscribers.get(name, {}))


def event_dispatched_at(name: str, now: datetime) -> datetime | None:
    """An event nobody listens to has nothing to dispatch: it is recorded as dispatched."""
    return None if subscribers_for(name) else now


# DomainEvent.lane's length.
LANE_LENGTH = 100


def lane_of(keys: Iterable[str]) -> str:
    """The lane of an event about these things (an order's SKUs): the same set, the same lane.
    A long set is cut short; events that share a long prefix then share a lane, which only
    means that they take turns with each other."""
    return " ".join(sorted(set(keys)))[:LANE_LENGTH]


@dataclass(frozen=True, slots=True)
class NewEvent:
    name: str
    aggregate_type: str
    aggregate_id: str | int
    payload: dict[str, Any]
    lane: str = ""


def events_record(
    events: Iterable[NewEvent], *, correlation_id: str = "", now: datetime | None = None
) -> list[DomainEvent]:
    """Write events in the current transaction, created at the caller's `now` (the time of the
    change they tell of); dispatch them after it commits."""
    correlation_id = correlation_id or ensure_correlation_id()
    now = now or timezone.now()
    rows = [
        DomainEvent(
            name=e.name,
            aggregate_type=e.aggregate_type,
            aggregate_id=str(e.aggregate_id),
            payload=e.payload,
            correlation_id=correlation_id,
            created_at=now,
            dispatched_at=event_dispatched_at(e.name, now),
            lane=e.lane,
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
    "lane",
)


def event_record(
    name: str,
    aggregate_type: str,
    aggregate_id: str | int,
    payload: dict[str, Any],
    *,
    correlation_id: str = "",
    now: datetime | None = None,
) -> DomainEvent:
    return events_record(
        [NewEvent(name, aggregate_type, aggregate_id, payload)],
        correlation_id=correlation_id,
        now=now,
    )[0]


def events_relay_request() -> None:
    """Ask for a relay run (after commit); the events themselves wait in the table."""
    from .tasks import events_relay

    try:
        task_request(events_relay)
    except Exception:  # the broker is down: the periodic sweep will pick them up
        logger.exception("could not ask for the event relay; the sweep will dispatch the events")
