"""Positions and the ledger: every change to a position is made under a row lock taken in
primary-key order (no deadlocks between multi-line orders or batches), recorded as a ledger
movement, and marks the item for the availability refresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from retailsync.core.coalesce import task_request
from retailsync.core.db import insert_returning, update_rows, values_of

from ..models import AvailabilityDirty, Position, StockEvent, StockMovement
from ..rules import Quantities

QUANTITY_FIELDS = ("on_hand", "reserved", "in_transit", "damaged", "quality_hold")


def quantities(position: Position) -> Quantities:
    return Quantities(*(getattr(position, f) for f in QUANTITY_FIELDS))


def positions_locked(
    pairs: Iterable[tuple[int, int]], *, now: datetime
) -> dict[tuple[int, int], Position]:
    """Positions for (item id, location id) pairs, created when missing (at `now`), locked in
    pk order."""
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
            [Position(item_id=i, location_id=loc, updated_at=now) for i, loc in sorted(missing)],
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
            mark_dirty({p.item_id for p in self.touched.values()}, now=self.now)


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


def mark_dirty(item_ids: Iterable[int], *, now: datetime) -> None:
    """Ask for the availability refresh of these items once the transaction commits; `now`
    dates the mark (the lag check measures from it)."""
    items = sorted(set(item_ids))
    if not items:
        return
    insert_returning(AvailabilityDirty, ("item", "marked_at"), ((i, now) for i in items))
    transaction.on_commit(enqueue_refresh)


def enqueue_refresh() -> None:
    from ..tasks import availability_refresh_task

    # One waiting refresh drains every committed mark: writers of a hot SKU need not each ask.
    task_request(availability_refresh_task)


# --- stock events ---------------------------------------------------------------------------
