"""Inventory's answers to order events (dispatched by the core's outbox, each exactly once)."""

from __future__ import annotations

from retailsync.events import subscribe
from retailsync.models import DomainEvent

from .backorders import backorders_recheck, backorders_wake
from .reservations import order_release, order_reserve, order_ship


@subscribe("order.accepted")
def reserve_accepted_order(event: DomainEvent) -> None:
    order_reserve(payload=event.payload)


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
