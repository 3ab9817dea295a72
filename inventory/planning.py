"""An accepted order's plan: what its lines need (bundles expand to components), where it may
reserve, and how the needs are spread over locations by priority. No locks, no writes: the
locked path of `reservations` and the backorder fill share it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from .models import Reservation
from .reserving import statement


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


def plan_of(payload: Mapping[str, Any]) -> Plan:
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


def allocate(
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


def reservation_new(
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


RESERVATION_FIELDS = (
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


def needs_of(lines: Sequence[Mapping[str, Any]]) -> tuple[list[Need], list[str]]:
    """What lines need (shipments, cancellations): the plan's items, without the places."""
    plan = plan_of({"lines": lines, "channel": ""})
    return plan.needs, plan.unknown
