"""Every write to stock: master data, allocation rules, and stock events applied exactly once.

Positions change only here and in `inventory.reservations`, always under row locks taken in
primary-key order (no deadlocks between multi-line orders or batches), always with a ledger
movement per change, and always marking the item for the availability refresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from retailsync.core.coalesce import task_request
from retailsync.core.correlation import ensure_correlation_id
from retailsync.core.db import insert_returning, update_rows, values_of
from retailsync.core.errors import BusinessRuleViolation, FieldError
from retailsync.core.events import event_record
from retailsync.core.models import Channel, LegalEntity
from retailsync.core.publish import task_publish
from retailsync.core.services import exception_raise
from retailsync.core.webhooks import webhook_secret_new, webhook_url_problems

from .models import (
    AvailabilityDirty,
    BundleComponent,
    ChannelAllocation,
    ChannelItemRule,
    ChannelLocation,
    EventBatch,
    Item,
    Location,
    Position,
    StockEvent,
    StockMovement,
)
from .rules import Quantities, Refused, count_delta, event_delta

QUANTITY_FIELDS = ("on_hand", "reserved", "in_transit", "damaged", "quality_hold")


# --- master data ----------------------------------------------------------------------------


def location_upsert(
    *, code: str, kind: str, name: str = "", legal_entity: str = ""
) -> tuple[Location, bool]:
    if kind not in Location.Kind.values:
        raise BusinessRuleViolation(
            f"must be one of {', '.join(Location.Kind.values)}", field="kind"
        )
    entity = None
    if legal_entity:
        entity = LegalEntity.objects.filter(code=legal_entity).first()
        if entity is None:
            raise BusinessRuleViolation(
                f"unknown legal entity {legal_entity!r}", field="legal_entity"
            )
    location, created = Location.objects.update_or_create(
        code=code, defaults={"kind": kind, "name": name or code, "legal_entity": entity}
    )
    return location, created


def item_upsert(
    *,
    sku: str,
    description: str = "",
    unit_cost: Decimal | None = None,
    cost_currency: str = "",
    components: Mapping[str, int] | None = None,
) -> tuple[Item, bool]:
    """Create or update an item; `components` (SKU → quantity) makes it a bundle."""
    with transaction.atomic():
        item, created = Item.objects.update_or_create(
            sku=sku,
            defaults={
                "description": description,
                "unit_cost": unit_cost,
                "cost_currency": cost_currency,
            },
        )
        if components is not None:
            parts = {i.sku: i for i in Item.objects.filter(sku__in=components)}
            missing = sorted(set(components) - set(parts))
            if missing:
                raise BusinessRuleViolation(
                    [FieldError(f"components.{s}", "unknown SKU") for s in missing]
                )
            if sku in components:
                raise BusinessRuleViolation("a bundle cannot contain itself", field="components")
            BundleComponent.objects.filter(bundle=item).delete()
            BundleComponent.objects.bulk_create(
                [
                    BundleComponent(bundle=item, component=parts[s], quantity=q)
                    for s, q in components.items()
                ]
            )
    return item, created


def allocation_set(
    *,
    channel: Channel,
    locations: Sequence[str],
    safety_stock: int = 0,
    share_percent: Decimal | None = None,
    cap: int | None = None,
    allow_split: bool = True,
    reservation_ttl_minutes: int | None = None,
    webhook_url: str = "",
    item_safety_stock: Mapping[str, int] | None = None,
    rotate_webhook_secret: bool = False,
    now: datetime | None = None,
) -> ChannelAllocation:
    """Replace the channel's allocation rules; locations in priority order (first goes first).
    A webhook always has a signing secret: one is issued with the first URL, or on request."""
    by_code = {loc.code: loc for loc in Location.objects.filter(code__in=locations)}
    items = {i.sku: i for i in Item.objects.filter(sku__in=list(item_safety_stock or {}))}
    problems = [
        FieldError(f"locations[{i}]", f"unknown location {code!r}")
        for i, code in enumerate(locations)
        if code not in by_code
    ]
    problems += [
        FieldError(f"item_safety_stock.{sku}", "unknown SKU")
        for sku in (item_safety_stock or {})
        if sku not in items
    ]
    if webhook_url:
        problems += [FieldError("webhook_url", p) for p in webhook_url_problems(webhook_url)]
    if problems:
        raise BusinessRuleViolation(problems)
    with transaction.atomic():
        allocation, _ = ChannelAllocation.objects.update_or_create(
            channel=channel,
            defaults={
                "safety_stock": safety_stock,
                "share_percent": share_percent,
                "cap": cap,
                "allow_split": allow_split,
                "reservation_ttl_minutes": reservation_ttl_minutes,
                "webhook_url": webhook_url,
                "updated_at": now or timezone.now(),
            },
        )
        if webhook_url and (rotate_webhook_secret or not allocation.webhook_secret):
            webhook_secret_issue(allocation=allocation)
        allocation.locations.all().delete()
        ChannelLocation.objects.bulk_create(
            [
                ChannelLocation(allocation=allocation, location=by_code[code], priority=i)
                for i, code in enumerate(locations)
            ]
        )
        allocation.item_rules.all().delete()
        ChannelItemRule.objects.bulk_create(
            [
                ChannelItemRule(allocation=allocation, item=items[sku], safety_stock=n)
                for sku, n in (item_safety_stock or {}).items()
            ]
        )
        # Every figure of this channel may change, and its backorders may find stock now.
        mark_dirty(Item.objects.values_list("pk", flat=True))
        from .backorders import backorders_wake

        backorders_wake()
    return allocation


def channel_webhook_secret(channel: Channel) -> str:
    found = ChannelAllocation.objects.filter(channel=channel).values_list(
        "webhook_secret", flat=True
    )
    return found.first() or ""


def webhook_secret_issue(*, allocation: ChannelAllocation) -> str:
    """A new secret that signs the channel's pushes from now on; the clear text is returned
    for the caller to show once (like a token) and is not shown again."""
    allocation.webhook_secret = webhook_secret_new()
    allocation.save(update_fields=["webhook_secret"])
    return allocation.webhook_secret


# --- positions and the ledger ---------------------------------------------------------------


def quantities(position: Position) -> Quantities:
    return Quantities(*(getattr(position, f) for f in QUANTITY_FIELDS))


def positions_locked(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Position]:
    """Positions for (item id, location id) pairs, created when missing, locked in pk order."""
    wanted = set(pairs)
    if not wanted:
        return {}

    def lock(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], Position]:
        # Items × locations may take a few rows more than asked: a short, fixed statement.
        rows = (
            Position.objects.select_for_update()
            .filter(item_id__in={i for i, _ in pairs}, location_id__in={loc for _, loc in pairs})
            .order_by("pk")
        )
        return {(p.item_id, p.location_id): p for p in rows}

    found = lock(wanted)
    missing = wanted - found.keys()
    if missing:
        Position.objects.bulk_create(
            [Position(item_id=i, location_id=loc) for i, loc in sorted(missing)],
            ignore_conflicts=True,
        )
        found |= lock(missing)
    return found


@dataclass
class Ledger:
    """Changes made in one transaction: applied to locked positions in memory, written once."""

    correlation_id: str
    now: datetime
    marked: bool = False  # the caller marked the items for the refresh already

    def __post_init__(self) -> None:
        self.movements: list[StockMovement] = []
        self.touched: dict[int, Position] = {}

    def apply(
        self,
        position: Position,
        delta: Quantities,
        *,
        reason: str,
        occurred_at: datetime,
        event: StockEvent | None = None,
        reference: tuple[str, str] = ("", ""),
    ) -> None:
        after = quantities(position) + delta
        after.check()
        for name in QUANTITY_FIELDS:
            setattr(position, name, getattr(after, name))
        position.updated_at = self.now
        self.touched[position.pk] = position
        self.movements.append(
            StockMovement(
                item_id=position.item_id,
                location_id=position.location_id,
                reason=reason,
                on_hand=delta.on_hand,
                reserved=delta.reserved,
                in_transit=delta.in_transit,
                damaged=delta.damaged,
                quality_hold=delta.quality_hold,
                event=event,
                source=event.source if event else "",
                source_event_id=event.event_id if event else "",
                reference_type=reference[0],
                reference_id=str(reference[1])[:64],
                occurred_at=occurred_at,
                recorded_at=self.now,
                correlation_id=self.correlation_id,
            )
        )

    def save(self) -> None:
        if not self.touched:
            return
        update_rows(
            Position,
            [*QUANTITY_FIELDS, "updated_at", "last_count_at"],
            sorted(self.touched.values(), key=lambda p: p.pk),
        )
        insert_returning(
            StockMovement,
            _MOVEMENT_FIELDS,
            (values_of(m, _MOVEMENT_FIELDS) for m in self.movements),
        )
        if not self.marked:
            mark_dirty({p.item_id for p in self.touched.values()})


_MOVEMENT_FIELDS = (
    "item",
    "location",
    "reason",
    *QUANTITY_FIELDS,
    "event",
    "source",
    "source_event_id",
    "reference_type",
    "reference_id",
    "occurred_at",
    "recorded_at",
    "correlation_id",
)


def mark_dirty(item_ids: Iterable[int]) -> None:
    """Ask for the availability refresh of these items once the transaction commits."""
    now = timezone.now()
    items = sorted(set(item_ids))
    if not items:
        return
    insert_returning(AvailabilityDirty, ("item", "marked_at"), ((i, now) for i in items))
    transaction.on_commit(enqueue_refresh)


def enqueue_refresh() -> None:
    from .tasks import availability_refresh_task

    # One waiting refresh drains every committed mark: writers of a hot SKU need not each ask.
    task_request(availability_refresh_task)


# --- stock events ---------------------------------------------------------------------------


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
        positions = positions_locked(pairs)
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
        )
    from .backorders import backorders_wake_after

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


def event_batch_queue(*, events: Sequence[EventInput]) -> EventBatch:
    """Keep a large, already validated list for a worker; it applies as one batch there."""
    batch = EventBatch.objects.create(
        events=[asdict(e) for e in events],
        size=len(events),
        correlation_id=ensure_correlation_id(),
    )
    transaction.on_commit(lambda: _enqueue_batch(batch.pk))
    return batch


def _enqueue_batch(batch_id: int) -> None:
    from .tasks import event_batch_run_task

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
        return _event_batch_apply(batch, now)


def _event_batch_apply(batch: EventBatch, now: datetime | None) -> EventBatch:
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
    batch.finished_at = timezone.now()
    batch.save()
    return batch
