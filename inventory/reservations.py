"""Reservations driven by order events: accepted orders reserve, shipments consume, cancellations
and expiry release. The channel already sold what it sent, so an order is never refused here:
what cannot be reserved becomes a backorder exception and availability stays at zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from retailsync.core.correlation import ensure_correlation_id
from retailsync.core.db import insert_returning, values_of
from retailsync.core.services import exception_raise

from .models import (
    Location,
    Position,
    Reservation,
)
from .reserving import UNPAID, Accepted, label, reserve_simple, statement
from .rules import Quantities
from .services import Ledger, mark_dirty, positions_locked

# Check and write simple orders in one statement where the database can (PostgreSQL); the
# tests turn it off to run the same cases through the path under locks that SQLite always takes.
ONE_STATEMENT = True


@dataclass(frozen=True, slots=True)
class Need:
    """Units of one stocked item that one order line needs (bundles expand to components)."""

    line_id: int
    sku: str
    item_id: int
    quantity: int


@dataclass(frozen=True, slots=True)
class Plan:
    """What an accepted order needs and where it may reserve."""

    needs: list[Need]
    unknown: list[str]
    location_ids: list[int]  # in priority order
    allow_split: bool
    ttl_minutes: int | None


# The lines' items (a bundle: its components) × the order's fulfilment location if it names a
# known one, else the channel's allocation locations by priority. Plain SQL that SQLite (the
# demo) runs as well: one round trip instead of five ORM queries.
_PLAN_SQL = """
WITH need AS (
    SELECT i.sku AS line_sku, COALESCE(c.id, i.id) AS item_id, COALESCE(bc.quantity, 1) AS per,
           COALESCE(c.sku, i.sku) AS sku
    FROM {item} i
    LEFT JOIN {bundle} bc ON bc.bundle_id = i.id
    LEFT JOIN {item} c ON c.id = bc.component_id
    WHERE i.sku IN ({skus})
),
fixed AS (SELECT id FROM {location} WHERE code = %s),
alloc AS (
    SELECT a.id, a.allow_split, a.reservation_ttl_minutes
    FROM {allocation} a JOIN {channel} ch ON ch.id = a.channel_id
    WHERE ch.code = %s
),
loc AS (
    SELECT id AS location_id, 0 AS priority, 0 AS pk FROM fixed
    UNION ALL
    SELECT cl.location_id, cl.priority, cl.id
    FROM {channel_location} cl JOIN alloc ON alloc.id = cl.allocation_id
    WHERE NOT EXISTS (SELECT 1 FROM fixed)
)
SELECT need.line_sku, need.item_id, need.per, need.sku, loc.location_id,
       NOT EXISTS (SELECT 1 FROM fixed) AND COALESCE((SELECT allow_split FROM alloc), FALSE),
       (SELECT reservation_ttl_minutes FROM alloc)
FROM need
LEFT JOIN loc ON 1 = 1
ORDER BY loc.priority, loc.pk
"""


def _plan(payload: Mapping[str, Any]) -> Plan:
    lines = payload["lines"]
    skus = sorted({line["sku"] for line in lines})
    sql = statement(_PLAN_SQL, connection.vendor, skus=", ".join(["%s"] * len(skus)))
    with connection.cursor() as cursor:
        cursor.execute(sql, [*skus, payload.get("fulfilment_location") or "", payload["channel"]])
        rows = cursor.fetchall()
    parts: dict[str, dict[int, tuple[int, str]]] = defaultdict(dict)
    location_ids: list[int] = []
    allow_split, ttl = False, None
    for line_sku, item_id, per, sku, location_id, split, minutes in rows:
        parts[line_sku][item_id] = (per, sku)
        if location_id is not None and location_id not in location_ids:
            location_ids.append(location_id)
        allow_split, ttl = bool(split), minutes
    needs, unknown = [], []
    for line in lines:
        if line["sku"] not in parts:
            unknown.append(line["sku"])
            continue
        for item_id, (per, sku) in parts[line["sku"]].items():
            needs.append(Need(line["line_id"], sku, item_id, line["quantity"] * per))
    return Plan(needs, unknown, location_ids, allow_split, ttl)


@dataclass(frozen=True, slots=True)
class Take:
    need: Need
    location_id: int
    quantity: int


def _allocate(
    needs: Sequence[Need],
    location_ids: Sequence[int],
    allow_split: bool,
    available: dict[tuple[int, int], int],
) -> tuple[list[Take], list[tuple[Need, int]]]:
    """Where each need is reserved, by location priority, and what is short. A line that may
    not split goes whole to the first location that can take it, else to the first one.
    `available` is drawn down as it goes: two lines may share a position.
    """
    takes: list[Take] = []
    short: list[tuple[Need, int]] = []
    for need in needs:
        remaining = need.quantity
        ranked = list(location_ids)
        if not allow_split:
            whole = [loc for loc in ranked if available.get((need.item_id, loc), 0) >= remaining]
            ranked = (whole or ranked)[:1]
        for loc in ranked:
            take = min(remaining, available.get((need.item_id, loc), 0))
            if take <= 0:
                continue
            available[(need.item_id, loc)] -= take
            takes.append(Take(need, loc, take))
            remaining -= take
            if remaining == 0:
                break
        if remaining:
            short.append((need, remaining))
    return takes, short


def orders_reserve(
    *, orders: Sequence[Accepted], now: datetime | None = None
) -> list[list[Reservation]]:
    """Reserve accepted orders (`order.accepted` payloads) as if one after the other, earlier
    ones first where stock runs short; the reservations made for each. The outbox relay hands
    over a chunk at once.

    On PostgreSQL runs of simple orders (see `reserving`) are one statement each; any other
    order, and every order on SQLite, is planned in Python under the same row locks and
    written in a transaction of its own.
    """
    now = now or timezone.now()
    if not (ONE_STATEMENT and connection.vendor == "postgresql"):
        return [_reserve_planned(o, now) for o in orders]
    results: list[list[Reservation]] = []
    rest = list(orders)
    while rest:
        run = _each_order_once(rest)
        done, general = reserve_simple(run, now)
        for accepted, reserved in zip(run, done, strict=False):
            _unknown_raise(accepted.payload, reserved.unknown, accepted.correlation_id, now)
            results.append(reserved.made)
        taken = len(done)
        while taken < len(run) and general[taken]:
            results.append(_reserve_planned(run[taken], now))
            taken += 1
        rest = rest[taken:]
    return results


def _each_order_once(orders: Sequence[Accepted]) -> Sequence[Accepted]:
    """The longest start of `orders` in which no order appears twice (an order listed twice is
    reserved twice, one after the other, as two calls would)."""
    seen: set[Any] = set()
    for end, accepted in enumerate(orders):
        if accepted.payload["order_id"] in seen:
            return orders[:end]
        seen.add(accepted.payload["order_id"])
    return orders


def order_reserve(*, payload: Mapping[str, Any], now: datetime | None = None) -> list[Reservation]:
    """Reserve one accepted order (the `order.accepted` event's payload)."""
    return orders_reserve(orders=[Accepted(payload, ensure_correlation_id())], now=now)[0]


def _reserve_planned(accepted: Accepted, now: datetime) -> list[Reservation]:
    """One order planned in Python under the positions' row locks, in a transaction."""
    payload, correlation_id = accepted.payload, accepted.correlation_id
    plan = _plan(payload)
    expires_at = (
        now + timedelta(minutes=plan.ttl_minutes)
        if plan.ttl_minutes and payload.get("channel_status") in UNPAID
        else None
    )
    with transaction.atomic():
        made, short = _reserve_locked(plan, payload["order_id"], expires_at, correlation_id, now)
        _backorders_raise(payload, plan, short, correlation_id, now)
        _unknown_raise(payload, plan.unknown, correlation_id, now)
    return made


def _reservation(
    order_id: int,
    take: Take,
    expires_at: datetime | None,
    correlation_id: str,
    now: datetime,
) -> Reservation:
    return Reservation(
        order_id=order_id,
        order_line_id=take.need.line_id,
        item_id=take.need.item_id,
        location_id=take.location_id,
        quantity=take.quantity,
        requested=take.need.quantity,
        expires_at=expires_at,
        created_at=now,
        correlation_id=correlation_id,
    )


def _reserve_locked(
    plan: Plan, order_id: int, expires_at: datetime | None, correlation_id: str, now: datetime
) -> tuple[list[Reservation], list[tuple[Need, int]]]:
    """The order planned under the positions' row locks, and written (call in a transaction)."""
    # Everything that needs no lock comes first: the lock on a popular SKU's position is held
    # from here to commit, and every other order for it waits that long.
    mark_dirty({n.item_id for n in plan.needs})
    positions = positions_locked(
        {(n.item_id, loc) for n in plan.needs for loc in plan.location_ids}
    )
    takes, short = _allocate(
        plan.needs,
        plan.location_ids,
        plan.allow_split,
        {key: p.available for key, p in positions.items()},
    )
    ledger = Ledger(correlation_id, now, marked=True)
    made = []
    for take in takes:
        ledger.apply(
            positions[(take.need.item_id, take.location_id)],
            Quantities(reserved=take.quantity),
            reason="reservation",
            occurred_at=now,
            reference=("order", str(order_id)),
        )
        made.append(_reservation(order_id, take, expires_at, correlation_id, now))
    ledger.save()
    ids = insert_returning(
        Reservation, _RESERVATION_FIELDS, (values_of(r, _RESERVATION_FIELDS) for r in made)
    )
    for reservation, pk in zip(made, ids, strict=True):
        reservation.pk = pk
    return made, short


def _backorders_raise(
    payload: Mapping[str, Any],
    plan: Plan,
    short: Sequence[tuple[Need, int]],
    correlation_id: str,
    now: datetime,
) -> None:
    """The locked path's backorders; `reserving` words them the same in SQL."""
    order_id = payload["order_id"]
    for need, missing in short:
        exception_raise(
            kind="backorder",
            reason=f"{missing} of {need.quantity} × {need.sku} could not be reserved for "
            f"order {order_id}" + ("" if plan.location_ids else _no_locations(payload["channel"])),
            details={
                "order_id": order_id,
                "line_id": need.line_id,
                "sku": need.sku,
                "short": missing,
                "requested": need.quantity,
            },
            object_type="order",
            object_id=order_id,
            object_label=label(payload),
            dedupe_key=f"backorder:{need.line_id}:{need.item_id}",
            correlation_id=correlation_id,
            now=now,
        )


def _no_locations(channel: str) -> str:
    return (
        f": channel {channel} has no locations to reserve at. Give it its locations with "
        f"PUT /api/v1/channels/{channel}/allocation or in the admin (Inventory › Channel "
        "allocations); its backorders are then reserved as stock allows"
    )


def _unknown_raise(
    payload: Mapping[str, Any], unknown: Sequence[str], correlation_id: str, now: datetime
) -> None:
    """One exception for the order, listing every SKU it sells that the item master lacks:
    a 10,000-line order of unknown SKUs is one thing for a person to fix, not 10,000."""
    if not unknown:
        return
    order_id = payload["order_id"]
    skus = sorted(set(unknown))
    named = ", ".join(repr(sku) for sku in skus[:10])
    more = f" and {len(skus) - 10} more" if len(skus) > 10 else ""
    exception_raise(
        kind="unknown_sku",
        reason=f"order {order_id} sells {len(skus)} SKU(s) not in the item master: {named}{more}",
        details={"order_id": order_id, "sku": skus[0], "skus": skus, "count": len(skus)},
        object_type="order",
        object_id=order_id,
        dedupe_key=f"unknown_sku:{order_id}",
        object_label=label(payload),
        correlation_id=correlation_id,
        now=now,
    )


_RESERVATION_FIELDS = (
    "order",
    "order_line",
    "item",
    "location",
    "quantity",
    "requested",
    "status",
    "expires_at",
    "created_at",
    "correlation_id",
)


def _needs(lines: Sequence[Mapping[str, Any]]) -> tuple[list[Need], list[str]]:
    """What lines need (shipments, cancellations): the plan's items, without the places."""
    plan = _plan({"lines": lines, "channel": ""})
    return plan.needs, plan.unknown


def _reservations_locked(order_id: int, line_ids: Sequence[int]) -> list[Reservation]:
    return list(
        Reservation.objects.select_for_update()
        .filter(order_id=order_id, order_line_id__in=line_ids, status=Reservation.Status.ACTIVE)
        .order_by("pk")
    )


def order_ship(*, payload: Mapping[str, Any], now: datetime | None = None) -> None:
    """Reserved units leave on-hand at the shipping location, in one change per position."""
    now = now or timezone.now()
    correlation_id = ensure_correlation_id()
    order_id = payload["order_id"]
    needs, _ = _needs(payload["lines"])
    location = Location.objects.filter(code=payload["location"]).first()
    with transaction.atomic():
        held = _reservations_locked(order_id, [n.line_id for n in needs])
        location_ids = {r.location_id for r in held} | ({location.pk} if location else set())
        positions = positions_locked({(n.item_id, loc) for n in needs for loc in location_ids})
        ledger = Ledger(correlation_id, now)
        for need in needs:
            mine = [r for r in held if (r.order_line_id, r.item_id) == (need.line_id, need.item_id)]
            # Ship from the reservation at the shipping location first, then any other.
            mine.sort(key=lambda r: (location is None or r.location_id != location.pk, r.pk))
            remaining = need.quantity
            for reservation in mine:
                take = min(remaining, reservation.quantity)
                if take <= 0:
                    continue
                position = positions[(need.item_id, reservation.location_id)]
                ledger.apply(
                    position,
                    Quantities(on_hand=-take, reserved=-take),
                    reason="shipment",
                    occurred_at=now,
                    reference=("shipment", str(payload.get("shipment_id", ""))),
                )
                _consume(reservation, take, Reservation.Status.SHIPPED, now)
                remaining -= take
            if remaining:
                _ship_unreserved(ledger, positions, need, remaining, location, payload, now)
        ledger.save()


def _ship_unreserved(
    ledger: Ledger,
    positions: Mapping[tuple[int, int], Position],
    need: Need,
    quantity: int,
    location: Location | None,
    payload: Mapping[str, Any],
    now: datetime,
) -> None:
    position = positions.get((need.item_id, location.pk)) if location else None
    if position is not None and position.available >= quantity:
        ledger.apply(
            position,
            Quantities(on_hand=-quantity),
            reason="shipment",
            occurred_at=now,
            reference=("shipment", str(payload.get("shipment_id", ""))),
        )
        return
    exception_raise(
        kind="shipment_without_stock",
        reason=f"{quantity} × {need.sku} shipped from {payload['location']} for order "
        f"{payload['order_id']}, but the stock there does not show them",
        details={
            **{k: payload[k] for k in ("order_id", "location") if k in payload},
            "sku": need.sku,
            "quantity": quantity,
        },
        object_type="order",
        object_id=payload["order_id"],
        object_label=f"order {payload['order_id']}",
        dedupe_key=f"shipment_without_stock:{payload['order_id']}:{need.line_id}:"
        f"{payload['location']}"[:200],
        now=now,
    )


def _consume(reservation: Reservation, quantity: int, closing: str, now: datetime) -> None:
    reservation.quantity -= quantity
    if reservation.quantity == 0:
        reservation.status = closing
        reservation.closed_at = now
    reservation.save(update_fields=["quantity", "status", "closed_at"])


def order_release(*, payload: Mapping[str, Any], now: datetime | None = None) -> int:
    """Release what an order's cancellation freed (`order.cancelled` payload); returns units."""
    now = now or timezone.now()
    correlation_id = ensure_correlation_id()
    needs, _ = _needs(payload["lines"])
    with transaction.atomic():
        held = _reservations_locked(payload["order_id"], [n.line_id for n in needs])
        released = _release(
            held, needs, Reservation.Status.RELEASED, correlation_id, now, reason="release"
        )
    return released


def _release(
    held: list[Reservation],
    needs: Sequence[Need] | None,
    closing: str,
    correlation_id: str,
    now: datetime,
    *,
    reason: str,
) -> int:
    positions = positions_locked({(r.item_id, r.location_id) for r in held})
    ledger = Ledger(correlation_id, now)
    wanted = None if needs is None else {(n.line_id, n.item_id): n.quantity for n in needs}
    released = 0
    for reservation in held:
        key = (reservation.order_line_id, reservation.item_id)
        take = (
            reservation.quantity
            if wanted is None
            else min(wanted.get(key, 0), reservation.quantity)
        )
        if take <= 0:
            continue
        if wanted is not None:
            wanted[key] -= take
        ledger.apply(
            positions[(reservation.item_id, reservation.location_id)],
            Quantities(reserved=-take),
            reason=reason,
            occurred_at=now,
            reference=("order", str(reservation.order_id)),
        )
        _consume(reservation, take, closing, now)
        released += take
    ledger.save()
    return released


def reservations_expire(*, now: datetime | None = None) -> int:
    """Release reservations of unpaid orders whose time ran out (a scheduled task)."""
    now = now or timezone.now()
    correlation_id = ensure_correlation_id()
    with transaction.atomic():
        held = list(
            Reservation.objects.select_for_update(skip_locked=True)
            .filter(status=Reservation.Status.ACTIVE, expires_at__lte=now)
            .order_by("pk")[:1000]
        )
        return _release(
            held, None, Reservation.Status.EXPIRED, correlation_id, now, reason="expiry"
        )
