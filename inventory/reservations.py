"""Reservations driven by order events: accepted orders reserve, shipments consume, cancellations
and expiry release. The channel already sold what it sent, so an order is never refused here:
what cannot be reserved becomes a backorder exception and availability stays at zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from retailsync.core.correlation import ensure_correlation_id
from retailsync.core.db import insert_returning, values_of

from .consuming import order_release, order_ship, reservations_expire
from .models import Reservation
from .planning import RESERVATION_FIELDS, Need, Plan, allocate, plan_of, reservation_new
from .reserving import UNPAID, Accepted, reserve_simple
from .rules import Quantities
from .services import Ledger, mark_dirty, positions_locked
from .shortfalls import backorders_raise, unknown_raise

__all__ = [
    "ONE_STATEMENT",
    "order_release",
    "order_reserve",
    "order_ship",
    "orders_reserve",
    "reservations_expire",
]


# Check and write simple orders in one statement where the database can (PostgreSQL); the
# tests turn it off to run the same cases through the path under locks that SQLite always takes.
ONE_STATEMENT = True


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
            unknown_raise(accepted.payload, reserved.unknown, accepted.correlation_id, now)
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
    plan = plan_of(payload)
    expires_at = (
        now + timedelta(minutes=plan.ttl_minutes)
        if plan.ttl_minutes and payload.get("payment_state") == UNPAID
        else None
    )
    with transaction.atomic():
        made, short = _reserve_locked(plan, payload["order_id"], expires_at, correlation_id, now)
        backorders_raise(payload, plan, short, correlation_id, now)
        unknown_raise(payload, plan.unknown, correlation_id, now)
    return made


def _reserve_locked(
    plan: Plan, order_id: int, expires_at: datetime | None, correlation_id: str, now: datetime
) -> tuple[list[Reservation], list[tuple[Need, int]]]:
    """The order planned under the positions' row locks, and written (call in a transaction)."""
    # Everything that needs no lock comes first: the lock on a popular SKU's position is held
    # from here to commit, and every other order for it waits that long.
    mark_dirty({n.item_id for n in plan.needs}, now=now)
    positions = positions_locked(
        {(n.item_id, loc) for n in plan.needs for loc in plan.location_ids}, now=now
    )
    takes, short = allocate(
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
        made.append(reservation_new(order_id, take, expires_at, correlation_id, now))
    ledger.save()
    ids = insert_returning(
        Reservation, RESERVATION_FIELDS, (values_of(r, RESERVATION_FIELDS) for r in made)
    )
    for reservation, pk in zip(made, ids, strict=True):
        reservation.pk = pk
    return made, short
