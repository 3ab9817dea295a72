"""Stock events from warehouses and stores, applied exactly once per (source, event id), all or
nothing; large lists queued as a batch for a worker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from retailsync.core.correlation import ensure_correlation_id
from retailsync.core.db import insert_returning, values_of
from retailsync.core.errors import BusinessRuleViolation, FieldError
from retailsync.core.events import event_record
from retailsync.core.publish import task_publish
from retailsync.core.services import exception_raise

from ..models import (
    BundleComponent,
    EventBatch,
    Item,
    Location,
    Position,
    StockEvent,
    StockMovement,
)
from ..rules import Quantities, Refused, count_delta, event_delta
from .ledger import Ledger, positions_locked, quantities


@dataclass(frozen=True, slots=True)
class EventInput:
    event_id: str
    source: str
    type: str
    sku: str
    location: str
    quantity: int
    occurred_at: datetime
    to_location: str = ""
    reference: str = ""


@dataclass(frozen=True, slots=True)
class EventsResult:
    applied: int
    duplicates: int


class EventsRefused(BusinessRuleViolation):
    """A batch that cannot apply as a whole; nothing of it was applied."""


def _resolve(events: Sequence[EventInput]) -> tuple[dict[str, Item], dict[str, Location]]:
    items = {i.sku: i for i in Item.objects.filter(sku__in={e.sku for e in events})}
    codes = {e.location for e in events} | {e.to_location for e in events if e.to_location}
    locations = {loc.code: loc for loc in Location.objects.filter(code__in=codes)}
    bundles = set(
        BundleComponent.objects.filter(bundle__in=items.values()).values_list(
            "bundle_id", flat=True
        )
    )
    problems: list[FieldError] = []
    for i, e in enumerate(events):
        path = f"events[{i}]" if len(events) > 1 else ""
        prefix = f"{path}." if path else ""
        if e.type not in StockEvent.Type.values:
            problems.append(FieldError(f"{prefix}type", f"unknown event type {e.type!r}"))
        if e.sku not in items:
            problems.append(FieldError(f"{prefix}sku", f"unknown SKU {e.sku!r}"))
        elif items[e.sku].pk in bundles:
            problems.append(
                FieldError(f"{prefix}sku", "a bundle has no stock of its own; send its components")
            )
        if e.location not in locations:
            problems.append(FieldError(f"{prefix}location", f"unknown location {e.location!r}"))
        if e.type == "transfer_out" and e.to_location not in locations:
            problems.append(
                FieldError(f"{prefix}to_location", "a transfer out needs a known to_location")
            )
        if e.type == "adjustment":
            if e.quantity == 0:
                problems.append(FieldError(f"{prefix}quantity", "an adjustment cannot be zero"))
        elif e.type == "count":
            if e.quantity < 0:
                problems.append(FieldError(f"{prefix}quantity", "a count cannot be negative"))
        elif e.quantity <= 0:
            problems.append(FieldError(f"{prefix}quantity", "must be positive"))
    if problems:
        raise BusinessRuleViolation(problems)
    return items, locations


def stock_events_apply(
    *, events: Sequence[EventInput], now: datetime | None = None
) -> EventsResult:
    """Apply events exactly once per (source, event id), all or nothing.

    A redelivery, even one racing its twin, counts as a duplicate and changes nothing. An event
    that would make a quantity negative refuses the whole batch (422) and queues an exception.
    """
    now = now or timezone.now()
    correlation_id = ensure_correlation_id()
    items, locations = _resolve(events)
    for attempt in range(3):
        try:
            return _events_apply(events, items, locations, correlation_id, now)
        except IntegrityError:
            # A twin delivery committed between our look and our insert: look again.
            if attempt == 2:
                raise
        except EventsRefused as refused:
            exception_raise(
                kind="stock_event_refused",
                reason="; ".join(f"{e.field}: {e.message}" for e in refused.errors)[:2000],
                details={
                    "errors": refused.as_dicts(),
                    "events": [
                        {
                            "source": e.source,
                            "event_id": e.event_id,
                            "type": e.type,
                            "sku": e.sku,
                            "location": e.location,
                            "quantity": e.quantity,
                        }
                        for e in events
                    ],
                },
                object_type="stock_event",
                object_id=events[0].event_id,
                object_label=f"{events[0].source} {events[0].event_id}"
                + (f" (+{len(events) - 1} more)" if len(events) > 1 else ""),
                # The sender retries a refused batch: the retry is the same problem, counted.
                dedupe_key=f"stock_event_refused:{events[0].source}:{events[0].event_id}"[:200],
                correlation_id=correlation_id,
                now=now,
            )
            raise
    raise AssertionError("unreachable")


def _events_apply(
    events: Sequence[EventInput],
    items: Mapping[str, Item],
    locations: Mapping[str, Location],
    correlation_id: str,
    now: datetime,
) -> EventsResult:
    with transaction.atomic():
        keys = {(e.source, e.event_id) for e in events}
        seen = {
            key
            for key in StockEvent.objects.filter(
                source__in={s for s, _ in keys}, event_id__in={i for _, i in keys}
            ).values_list("source", "event_id")
            if key in keys
        }
        fresh: list[tuple[int, EventInput]] = []
        for index, e in enumerate(events):
            if (e.source, e.event_id) not in seen:
                seen.add((e.source, e.event_id))
                fresh.append((index, e))
        if not fresh:
            return EventsResult(applied=0, duplicates=len(events))
        rows = _events_insert(
            [
                StockEvent(
                    source=e.source,
                    event_id=e.event_id,
                    type=e.type,
                    item=items[e.sku],
                    location=locations[e.location],
                    to_location=locations.get(e.to_location) if e.to_location else None,
                    quantity=e.quantity,
                    occurred_at=e.occurred_at,
                    reference=e.reference,
                    received_at=now,
                    correlation_id=correlation_id,
                )
                for _, e in fresh
            ]
        )
        pairs = {(items[e.sku].pk, locations[e.location].pk) for _, e in fresh}
        pairs |= {
            (items[e.sku].pk, locations[e.to_location].pk)
            for _, e in fresh
            if e.type == "transfer_out"
        }
        positions = positions_locked(pairs, now=now)
        ledger = Ledger(correlation_id, now)
        problems: list[FieldError] = []
        for (index, e), row in zip(fresh, rows, strict=True):
            prefix = f"events[{index}]." if len(events) > 1 else ""
            position = positions[(items[e.sku].pk, locations[e.location].pk)]
            try:
                _event_apply(ledger, position, row, e, positions, locations)
            except Refused as exc:
                problems.append(
                    FieldError(
                        f"{prefix}quantity",
                        f"{e.type} of {e.quantity} {e.sku} at {e.location}: {exc}",
                    )
                )
        if problems:
            raise EventsRefused(problems)
        ledger.save()
        event_record(
            "stock.events_applied",
            "stock_batch",
            rows[0].pk,
            {"events": [r.pk for r in rows], "items": sorted({r.item_id for r in rows})},
            correlation_id=correlation_id,
            now=now,
        )
    from ..backorders import backorders_wake_after

    backorders_wake_after(ledger, items)
    return EventsResult(applied=len(fresh), duplicates=len(events) - len(fresh))


_EVENT_FIELDS = (
    "source",
    "event_id",
    "type",
    "item",
    "location",
    "to_location",
    "quantity",
    "occurred_at",
    "reference",
    "received_at",
    "correlation_id",
)


def _events_insert(rows: list[StockEvent]) -> list[StockEvent]:
    ids = insert_returning(
        StockEvent,
        _EVENT_FIELDS,
        (values_of(r, _EVENT_FIELDS) for r in rows),
    )
    for row, pk in zip(rows, ids, strict=True):
        row.pk = pk
    return rows


def _event_apply(
    ledger: Ledger,
    position: Position,
    row: StockEvent,
    e: EventInput,
    positions: Mapping[tuple[int, int], Position],
    locations: Mapping[str, Location],
) -> None:
    kwargs: dict[str, Any] = {
        "reason": e.type,
        "occurred_at": e.occurred_at,
        "event": row,
        "reference": ("document", e.reference) if e.reference else ("", ""),
    }
    if e.type == "count":
        if position.last_count_at and e.occurred_at < position.last_count_at:
            # An older count than one already applied says nothing new: recorded, no change.
            ledger.apply(position, Quantities(), **{**kwargs, "reason": "count_superseded"})
            return
        later = (
            StockMovement.objects.filter(
                item_id=position.item_id,
                location_id=position.location_id,
                occurred_at__gt=e.occurred_at,
            ).aggregate(n=Sum("on_hand"))["n"]
            or 0
        )
        later += sum(
            m.on_hand
            for m in ledger.movements
            if (m.item_id, m.location_id) == (position.item_id, position.location_id)
            and m.occurred_at > e.occurred_at
        )
        ledger.apply(position, count_delta(quantities(position), e.quantity, later), **kwargs)
        position.last_count_at = e.occurred_at
        return
    ledger.apply(position, event_delta(e.type, quantities(position), e.quantity), **kwargs)
    if e.type == "transfer_out":
        destination = positions[(position.item_id, locations[e.to_location].pk)]
        ledger.apply(
            destination,
            Quantities(in_transit=e.quantity),
            **{**kwargs, "reason": "transfer_in_transit"},
        )


def event_batch_queue(*, events: Sequence[EventInput], now: datetime | None = None) -> EventBatch:
    """Keep a large, already validated list for a worker; it applies as one batch there."""
    batch = EventBatch.objects.create(
        events=[asdict(e) for e in events],
        size=len(events),
        correlation_id=ensure_correlation_id(),
        created_at=now or timezone.now(),
    )
    transaction.on_commit(lambda: _enqueue_batch(batch.pk))
    return batch


def _enqueue_batch(batch_id: int) -> None:
    from ..tasks import event_batch_run_task

    task_publish(event_batch_run_task, batch_id=batch_id)  # or the sweep runs it


def event_batches_requeue(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Publish again the batches still queued after `older_than`: the request's publish was lost
    (the broker was down) or so was the message. Published twice, a batch still runs once."""
    cutoff = (now or timezone.now()) - older_than
    waiting = EventBatch.objects.filter(status=EventBatch.Status.QUEUED, created_at__lt=cutoff)
    ids = list(waiting.order_by("pk").values_list("pk", flat=True))
    for batch_id in ids:
        _enqueue_batch(batch_id)
    return len(ids)


def event_batch_run(*, batch_id: int, now: datetime | None = None) -> EventBatch:
    with transaction.atomic():
        # Locked while it runs: a second run of the same batch waits, then finds it done.
        batch = EventBatch.objects.select_for_update().get(pk=batch_id)
        if batch.status != EventBatch.Status.QUEUED:
            return batch
        return _event_batch_apply(batch, now or timezone.now())


def _event_batch_apply(batch: EventBatch, now: datetime) -> EventBatch:
    events = [
        EventInput(**{**e, "occurred_at": datetime.fromisoformat(e["occurred_at"])})
        for e in batch.events
    ]
    try:
        result = stock_events_apply(events=events, now=now)
        batch.status, batch.applied, batch.duplicates = (
            EventBatch.Status.DONE,
            result.applied,
            result.duplicates,
        )
    except BusinessRuleViolation as refused:
        batch.status, batch.errors = EventBatch.Status.FAILED, refused.as_dicts()
    batch.finished_at = now
    batch.save()
    return batch
