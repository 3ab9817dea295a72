"""Accepted orders reserved set-based: one statement for a chunk of simple orders (PostgreSQL).

An order is simple when it names a known fulfilment location or its channel reserves at exactly
one, no line is a bundle, and no two lines are of one item: each line then has one candidate
position. The statement locks those positions that have units to take (in id order, as
`positions_locked` does, so it never deadlocks with the path under locks), shares each one's
units out among the chunk's orders in the chunk's order (an earlier order takes all it needs
before a later one takes any: the same outcome as reserving them one after the other), and
writes positions (one update per position, however many orders share it), ledger movements,
refresh marks, reservations and backorder exceptions. A hot SKU's position is locked once per
chunk instead of once per order, and only while the statement runs and its transaction ends.

The first order of the chunk that is not simple ("general") ends what the statement reserves:
the caller reserves it under locks (`reservations._reserve_planned`) and hands the rest to the
statement again, so the outcome is always that of reserving the orders one after the other.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from retailsync.core.models import Channel
from retailsync.core.services import exception_upsert_sql

from .models import (
    AvailabilityDirty,
    BundleComponent,
    ChannelAllocation,
    ChannelLocation,
    Item,
    Location,
    Position,
    Reservation,
    StockMovement,
)
from .services import enqueue_refresh

# The order's canonical payment state (its channel's adapter read it from the channel's own
# status names): an unpaid order's reservation expires after the channel's TTL.
UNPAID = "unpaid"


@dataclass(frozen=True, slots=True)
class Accepted:
    """An accepted order to reserve: the `order.accepted` payload and its correlation id."""

    payload: Mapping[str, Any]
    correlation_id: str


@dataclass(slots=True)
class Reserved:
    """What the statement did for one order."""

    made: list[Reservation] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # SKUs not in the item master


@functools.cache
def statement(template: str, vendor: str, **extra: str) -> str:
    """A statement with its tables' names filled in, once per shape (and database)."""
    qn = connection.ops.quote_name
    tables = {
        name: qn(model._meta.db_table)
        for name, model in (
            ("item", Item),
            ("bundle", BundleComponent),
            ("location", Location),
            ("allocation", ChannelAllocation),
            ("channel", Channel),
            ("channel_location", ChannelLocation),
            ("position", Position),
            ("movement", StockMovement),
            ("dirty", AvailabilityDirty),
            ("reservation", Reservation),
        )
    }
    return template.format(**tables, **extra)


def label(payload: Mapping[str, Any]) -> str:
    """The order as its channel names it (`web order WS-6018`), never by our row id."""
    return f"{payload['channel']} order {payload.get('external_id', payload['order_id'])}"


BACKORDER_COLUMNS = (
    "kind",
    "reason",
    "details",
    "object_type",
    "object_id",
    "object_label",
    "channel_id",
    "dedupe_key",
    "occurrences",
    "correlation_id",
    "created_at",
    "last_seen_at",
    "status",
    "resolved_at",
    "resolved_by_id",
    "resolution",
)
# One row per short need, worded as shortfalls.backorders_raise words them.
_BACKORDER_ROWS = """
    SELECT 'backorder',
           format('%%s of %%s × %%s could not be reserved for %%s', s.missing,
                  s.quantity, s.sku, s.label),
           jsonb_build_object('order_id', s.order_id, 'line_id', s.line_id, 'sku', s.sku,
                              'short', s.missing, 'requested', s.quantity),
           'order', s.order_id::text, s.label, NULL,
           'backorder:' || s.line_id || ':' || s.item_id, 1, s.correlation_id,
           %(now)s, %(now)s, 'open', NULL, NULL, ''
    FROM short s ORDER BY s.k, s.n, s.item_id
"""

_RESERVE_SQL = """
WITH ord AS (
    SELECT o.k, (o.r->>0)::bigint AS order_id, o.r->>1 AS fulfilment, o.r->>2 AS channel,
           (o.r->>3)::boolean AS unpaid, o.r->>4 AS label, o.r->>5 AS correlation_id
    FROM jsonb_array_elements(%(orders)s::jsonb) WITH ORDINALITY AS o(r, k)
),
line AS (
    SELECT l.k, l.n, l.line_id, l.sku, l.quantity, i.id AS item_id
    FROM (
        SELECT (r->>0)::bigint AS k, (r->>1)::bigint AS line_id, r->>2 AS sku,
               (r->>3)::integer AS quantity, n
        FROM jsonb_array_elements(%(lines)s::jsonb) WITH ORDINALITY AS l(r, n)
    ) l
    LEFT JOIN {item} i ON i.sku = l.sku
),
chan AS (
    SELECT ch.code, a.reservation_ttl_minutes AS ttl,
           (SELECT MIN(cl.location_id) FROM {channel_location} cl
            WHERE cl.allocation_id = a.id HAVING COUNT(*) = 1) AS only_location
    FROM {channel} ch JOIN {allocation} a ON a.channel_id = ch.id
    WHERE ch.code IN (SELECT channel FROM ord)
),
shape AS (
    SELECT line.k, COUNT(DISTINCT line.item_id) = COUNT(line.item_id) AS distinct_items,
           bool_or(bc.bundle_id IS NOT NULL) AS bundles
    FROM line LEFT JOIN (SELECT DISTINCT bundle_id FROM {bundle}) bc
         ON bc.bundle_id = line.item_id
    GROUP BY line.k
),
simple AS (
    SELECT ord.k, ord.order_id, ord.label, ord.correlation_id,
           COALESCE(fl.id, chan.only_location) AS location_id,
           CASE WHEN ord.unpaid THEN %(now)s::timestamptz + make_interval(mins => NULLIF(
               chan.ttl, 0)) END AS expires_at
    FROM ord
    JOIN shape ON shape.k = ord.k
    LEFT JOIN {location} fl ON fl.code = ord.fulfilment
    LEFT JOIN chan ON chan.code = ord.channel
    WHERE COALESCE(fl.id, chan.only_location) IS NOT NULL
      AND shape.distinct_items AND NOT shape.bundles
),
-- The first order that is not simple: it and the orders after it are left to the caller.
cut AS (
    SELECT COALESCE(MIN(ord.k), 2147483647) AS k
    FROM ord WHERE ord.k NOT IN (SELECT k FROM simple)
),
-- Every later step reads what it needs from here on: the planner takes each CTE for a row or
-- two, and a join of two of them became a nested loop over thousands of rows.
need AS (
    SELECT line.k, line.n, line.line_id, line.sku, line.quantity, line.item_id,
           simple.location_id, simple.order_id, simple.label, simple.correlation_id,
           simple.expires_at
    FROM line JOIN simple ON simple.k = line.k
    WHERE line.item_id IS NOT NULL AND line.k < (SELECT k FROM cut)
),
-- One row per need that has units to take, locking its position (in id order, as
-- positions_locked does; a hot position is locked once, however many needs share it).
locked AS (
    SELECT need.*, p.id AS position_id,
           p.on_hand - p.reserved - p.damaged - p.quality_hold AS available
    FROM need JOIN {position} p
         ON p.item_id = need.item_id AND p.location_id = need.location_id
    -- Nothing to take: no need to queue for the lock of a sold-out SKU's row.
    WHERE p.on_hand - p.reserved - p.damaged - p.quality_hold > 0
    ORDER BY p.id FOR UPDATE OF p
),
take AS (
    SELECT c.*,
           -- What is left after the earlier orders of the chunk took theirs.
           LEAST(c.quantity, GREATEST(c.available - COALESCE(SUM(c.quantity) OVER (
               PARTITION BY c.item_id, c.location_id ORDER BY c.k
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), 0)) AS taken
    FROM (
        SELECT * FROM locked
        UNION ALL
        SELECT need.*, NULL::bigint, 0 FROM need
        WHERE (need.k, need.n) NOT IN (SELECT k, n FROM locked)
    ) c
),
moved AS (
    UPDATE {position} p SET reserved = p.reserved + t.taken, updated_at = %(now)s
    FROM (SELECT position_id, SUM(taken) AS taken FROM take WHERE taken > 0
          GROUP BY position_id) t
    WHERE p.id = t.position_id
),
ledger AS (
    INSERT INTO {movement} (
        item_id, location_id, reason, on_hand, reserved, in_transit, damaged, quality_hold,
        event_id, source, source_event_id, reference_type, reference_id, occurred_at,
        recorded_at, correlation_id
    )
    SELECT item_id, location_id, 'reservation', 0, taken, 0, 0, 0, NULL, '', '',
           'order', order_id::text, %(now)s, %(now)s, correlation_id
    FROM take WHERE taken > 0 ORDER BY k, n
),
marks AS (
    INSERT INTO {dirty} (item_id, marked_at)
    SELECT DISTINCT item_id, %(now)s::timestamptz FROM take WHERE taken > 0
),
held AS (
    INSERT INTO {reservation} (
        order_id, order_line_id, item_id, location_id, quantity, requested, status,
        expires_at, created_at, closed_at, correlation_id
    )
    SELECT order_id, line_id, item_id, location_id, taken, quantity, 'active', expires_at,
           %(now)s, NULL, correlation_id
    FROM take WHERE taken > 0 ORDER BY k, n
    RETURNING id, order_id, order_line_id, item_id, location_id, quantity, requested,
              expires_at, correlation_id
),
short AS (
    SELECT k, n, line_id, item_id, sku, quantity, quantity - taken AS missing, order_id,
           label, correlation_id
    FROM take WHERE taken < quantity
),
backorders AS ({backorders})
SELECT 'held', NULL::bigint, h.id, h.order_id, h.order_line_id, h.item_id, h.location_id,
       h.quantity, h.requested, h.expires_at, h.correlation_id, NULL
FROM held h
UNION ALL
SELECT 'unknown', line.k, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, line.sku
FROM line WHERE line.item_id IS NULL AND line.k < (SELECT k FROM cut)
UNION ALL
SELECT 'general', ord.k, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM ord WHERE ord.k NOT IN (SELECT k FROM simple)
"""


def reserve_simple(orders: Sequence[Accepted], now: datetime) -> tuple[list[Reserved], list[bool]]:
    """_RESERVE_SQL on these orders (each order once): what it did for each order before the
    first one that is not simple, and for every order whether it is not simple ("general")."""
    sql = statement(
        _RESERVE_SQL,
        connection.vendor,
        backorders=exception_upsert_sql(BACKORDER_COLUMNS, _BACKORDER_ROWS),
    )
    payloads = [o.payload for o in orders]
    # The rows travel as two JSON documents: psycopg adapts a list element by element, which
    # cost more CPU than the statement's own work on a chunk of orders.
    document = [
        [
            p["order_id"],
            p.get("fulfilment_location") or "",
            p["channel"],
            p.get("payment_state") == UNPAID,
            label(p),
            o.correlation_id,
        ]
        for p, o in zip(payloads, orders, strict=True)
    ]
    lines = [
        [k, line["line_id"], line["sku"], line["quantity"]]
        for k, p in enumerate(payloads, start=1)
        for line in p["lines"]
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            sql, {"orders": json.dumps(document), "lines": json.dumps(lines), "now": now}
        )
        rows = cursor.fetchall()
    general = [False] * len(orders)
    results = [Reserved() for _ in orders]
    position = {p["order_id"]: k for k, p in enumerate(payloads)}
    for kind, k, pk, order_id, line_id, item_id, location_id, quantity, *rest in rows:
        requested, expires_at, correlation_id, sku = rest
        if kind == "general":
            general[k - 1] = True
        elif kind == "unknown":
            results[k - 1].unknown.append(sku)
        else:
            reservation = Reservation(
                pk=pk,
                order_id=order_id,
                order_line_id=line_id,
                item_id=item_id,
                location_id=location_id,
                quantity=quantity,
                requested=requested,
                expires_at=expires_at,
                created_at=now,
                correlation_id=correlation_id,
            )
            reservation._state.adding = False
            results[position[order_id]].made.append(reservation)
    done = results[: general.index(True) if True in general else len(orders)]
    for result in done:
        result.made.sort(key=lambda r: r.pk)
    if any(result.made for result in done):
        transaction.on_commit(enqueue_refresh)
    return done, general
