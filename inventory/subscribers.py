"""Inventory's answers to order events (dispatched by the core's outbox, each exactly once)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models import Exists, F, OuterRef

from orders.models import OrderLine
from retailsync.events import subscribe, subscribe_many
from retailsync.models import DomainEvent

from .backorders import backorders_recheck, backorders_wake
from .models import Reservation
from .reservations import order_release, order_ship, orders_reserve
from .reserving import Accepted


@subscribe_many("order.accepted")
def reserve_accepted_order(events: Sequence[DomainEvent]) -> None:
    """A chunk of accepted orders at once, in the order they were accepted (one statement for
    the simple ones: a hot SKU's position is updated once per chunk, not once per order).

    Only what is still open is reserved: an acceptance handled after the order's shipment or
    cancellation (retried, or replayed) would otherwise reserve units nothing releases."""
    open_now = _open_quantities([e.payload["order_id"] for e in events])
    orders = [_still_open(e.payload, e.correlation_id, open_now) for e in events]
    orders_reserve(orders=[accepted for accepted in orders if accepted is not None])


def _open_quantities(order_ids: Sequence[int]) -> dict[int, int]:
    """Per line of these orders, the units to reserve now (one query): neither shipped nor
    cancelled, and none if the line holds a reservation already (an acceptance handled again)."""
    held = Reservation.objects.filter(order_line=OuterRef("pk"), status=Reservation.Status.ACTIVE)
    lines = OrderLine.objects.filter(order_id__in=order_ids).annotate(held=Exists(held))
    return {
        pk: 0 if held else left
        for pk, left, held in lines.values_list(
            "pk", F("quantity") - F("quantity_shipped") - F("quantity_cancelled"), "held"
        )
    }


def _still_open(
    payload: Mapping[str, Any], correlation_id: str, open_now: Mapping[int, int]
) -> Accepted | None:
    """The acceptance with only its open units; None if none is left open."""
    lines = [
        {**line, "quantity": min(line["quantity"], open_now.get(line["line_id"], line["quantity"]))}
        for line in payload["lines"]
    ]
    if lines == payload["lines"]:
        return Accepted(payload, correlation_id)  # as accepted: nothing shipped or cancelled
    lines = [line for line in lines if line["quantity"] > 0]
    return Accepted({**payload, "lines": lines}, correlation_id) if lines else None


@subscribe("order.shipped")
def ship_reserved_units(event: DomainEvent) -> None:
    order_ship(payload=event.payload)
    backorders_recheck(order_id=event.payload["order_id"])  # shipped without waiting


@subscribe("order.cancelled")
def release_cancelled_units(event: DomainEvent) -> None:
    released = order_release(payload=event.payload)
    backorders_recheck(order_id=event.payload["order_id"])
    if released:
        backorders_wake()  # the units freed may be what another order waits for
