"""Domain events through a transactional outbox.

`events_record` writes events in the caller's transaction and, once that commits, asks Celery to
dispatch them. Each subscriber runs in its own transaction together with an `EventReceipt`, so a
subscriber handles an event exactly once however often dispatch is retried. Subscribers are
registered with `@subscribe("order.accepted")` in an app's `subscribers.py`, loaded at start-up.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

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
            # Nobody listens: there is nothing to dispatch.
            dispatched_at=None if subscribers_for(e.name) else now,
        )
        for e in events
    ]
    ids = insert_returning(
        DomainEvent, _EVENT_FIELDS, (values_of(row, _EVENT_FIELDS) for row in rows)
    )
    for row, pk in zip(rows, ids, strict=True):
        row.pk = pk
    waiting = [row.pk for row in rows if row.dispatched_at is None]
    if waiting:
        transaction.on_commit(lambda: _enqueue(waiting))
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


def _enqueue(event_ids: list[int]) -> None:
    from .tasks import events_dispatch

    try:
        events_dispatch.delay(event_ids=event_ids)
    except Exception:  # the broker is down: the periodic sweep will pick them up
        logger.exception("could not enqueue dispatch of events %s; the sweep will retry", event_ids)


def event_dispatch(*, event_id: int) -> int:
    """Run every subscriber that has not yet handled this event. Returns how many ran now."""
    event = DomainEvent.objects.filter(pk=event_id).first()
    if event is None:
        return 0
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
    DomainEvent.objects.filter(pk=event.pk, dispatched_at__isnull=True).update(
        dispatched_at=timezone.now()
    )
    return ran
