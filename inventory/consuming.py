"""Reservations ended: shipments consume them (and take on-hand), cancellations release them,
and unpaid orders' reservations expire. Each under the positions' row locks, in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from orders.selectors import order_label
from retailsync.core.correlation import ensure_correlation_id
from retailsync.core.services import exception_raise

from .models import Location, Position, Reservation
from .planning import Need, needs_of
from .rules import Quantities
from .services import Ledger, positions_locked


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
    needs, _ = needs_of(payload["lines"])
    location = Location.objects.filter(code=payload["location"]).first()
    with transaction.atomic():
        held = _reservations_locked(order_id, [n.line_id for n in needs])
        location_ids = {r.location_id for r in held} | ({location.pk} if location else set())
        positions = positions_locked(
            {(n.item_id, loc) for n in needs for loc in location_ids}, now=now
        )
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
    named = order_label(order_id=payload["order_id"])
    exception_raise(
        kind="shipment_without_stock",
        reason=f"{quantity} × {need.sku} shipped from {payload['location']} for {named}, but "
        "the stock there does not show them",
        details={
            **{k: payload[k] for k in ("order_id", "location") if k in payload},
            "sku": need.sku,
            "quantity": quantity,
        },
        object_type="order",
        object_id=payload["order_id"],
        object_label=named,
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
    needs, _ = needs_of(payload["lines"])
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
    positions = positions_locked({(r.item_id, r.location_id) for r in held}, now=now)
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
