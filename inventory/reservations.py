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

from django.db import transaction
from django.utils import timezone

from retailsync.correlation import ensure_correlation_id
from retailsync.db import insert_returning, values_of
from retailsync.services import exception_raise

from .models import BundleComponent, ChannelAllocation, Item, Location, Position, Reservation
from .rules import Quantities
from .services import Ledger, mark_dirty, positions_locked

# Channel statuses of orders not yet paid: their reservations expire (allocation TTL).
UNPAID = frozenset({"Pending", "pending", "authorized", "on-hold", "pending_payment"})


@dataclass(frozen=True, slots=True)
class Need:
    """Units of one stocked item that one order line needs (bundles expand to components)."""

    line_id: int
    sku: str
    item_id: int
    quantity: int


def _needs(lines: Sequence[Mapping[str, Any]]) -> tuple[list[Need], list[str]]:
    items = {i.sku: i for i in Item.objects.filter(sku__in={line["sku"] for line in lines})}
    parts: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for bc in BundleComponent.objects.filter(bundle__in=items.values()).select_related("component"):
        parts[bc.bundle_id].append((bc.component_id, bc.quantity, bc.component.sku))
    needs, unknown = [], []
    for line in lines:
        item = items.get(line["sku"])
        if item is None:
            unknown.append(line["sku"])
            continue
        for component_id, per, sku in parts.get(item.pk, [(item.pk, 1, item.sku)]):
            needs.append(Need(line["line_id"], sku, component_id, line["quantity"] * per))
    return needs, unknown


def _candidate_locations(channel_code: str, fulfilment_location: str) -> tuple[list[int], bool]:
    """Where to reserve, in priority order, and whether a line may split across them."""
    if fulfilment_location:
        found = Location.objects.filter(code=fulfilment_location).values_list("pk", flat=True)
        if found:
            return list(found), False
    allocation = (
        ChannelAllocation.objects.filter(channel__code=channel_code)
        .prefetch_related("locations")
        .first()
    )
    if allocation is None:
        return [], False
    ordered = sorted(allocation.locations.all(), key=lambda cl: (cl.priority, cl.pk))
    return [cl.location_id for cl in ordered], allocation.allow_split


def order_reserve(*, payload: Mapping[str, Any], now: datetime | None = None) -> list[Reservation]:
    """Reserve an accepted order's lines (the `order.accepted` event's payload)."""
    now = now or timezone.now()
    correlation_id = ensure_correlation_id()
    order_id = payload["order_id"]
    needs, unknown = _needs(payload["lines"])
    location_ids, allow_split = _candidate_locations(
        payload["channel"], payload.get("fulfilment_location", "")
    )
    expires_at = _expiry(payload, now)
    made: list[Reservation] = []
    with transaction.atomic():
        # Everything that needs no lock comes first: the lock on a popular SKU's position is
        # held from here to commit, and every other order for it waits that long.
        mark_dirty({n.item_id for n in needs})
        positions = positions_locked({(n.item_id, loc) for n in needs for loc in location_ids})
        ledger = Ledger(correlation_id, now, marked=True)
        short: list[tuple[Need, int]] = []
        for need in needs:
            remaining = need.quantity
            ranked = [positions[(need.item_id, loc)] for loc in location_ids]
            if not allow_split:
                # One location for the whole line: the first that can, else the first.
                whole = [p for p in ranked if p.available >= need.quantity]
                ranked = (whole or ranked)[:1]
            for position in ranked:
                take = min(remaining, position.available)
                if take <= 0:
                    continue
                ledger.apply(
                    position,
                    Quantities(reserved=take),
                    reason="reservation",
                    occurred_at=now,
                    reference=("order", str(order_id)),
                )
                made.append(
                    Reservation(
                        order_id=order_id,
                        order_line_id=need.line_id,
                        item_id=need.item_id,
                        location_id=position.location_id,
                        quantity=take,
                        requested=need.quantity,
                        expires_at=expires_at,
                        created_at=now,
                        correlation_id=correlation_id,
                    )
                )
                remaining -= take
                if remaining == 0:
                    break
            if remaining:
                short.append((need, remaining))
        ledger.save()
        ids = insert_returning(
            Reservation, _RESERVATION_FIELDS, (values_of(r, _RESERVATION_FIELDS) for r in made)
        )
        for reservation, pk in zip(made, ids, strict=True):
            reservation.pk = pk
        for need, missing in short:
            exception_raise(
                kind="backorder",
                reason=f"{missing} of {need.quantity} × {need.sku} could not be reserved for "
                f"order {order_id}" + ("" if location_ids else ": the channel has no locations"),
                details={
                    "order_id": order_id,
                    "line_id": need.line_id,
                    "sku": need.sku,
                    "short": missing,
                    "requested": need.quantity,
                },
                object_type="order",
                object_id=order_id,
                object_label=f"{payload['channel']} order {payload.get('external_id', order_id)}",
                dedupe_key=f"backorder:{need.line_id}:{need.item_id}",
                correlation_id=correlation_id,
                now=now,
            )
        for sku in unknown:
            exception_raise(
                kind="unknown_sku",
                reason=f"order {order_id} sells {sku!r}, which is not in the item master",
                details={"order_id": order_id, "sku": sku},
                object_type="order",
                object_id=order_id,
                dedupe_key=f"unknown_sku:{order_id}:{sku}",
                object_label=f"{payload['channel']} order {payload.get('external_id', order_id)}",
                correlation_id=correlation_id,
                now=now,
            )
    return made


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


def _expiry(payload: Mapping[str, Any], now: datetime) -> datetime | None:
    if payload.get("channel_status") not in UNPAID:
        return None
    ttl = (
        ChannelAllocation.objects.filter(channel__code=payload["channel"])
        .values_list("reservation_ttl_minutes", flat=True)
        .first()
    )
    return now + timedelta(minutes=ttl) if ttl else None


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
