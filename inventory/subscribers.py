"""Inventory's answers to order events (dispatched by the core's outbox, each exactly once)."""

from __future__ import annotations

from retailsync.events import subscribe
from retailsync.models import DomainEvent

from .reservations import order_release, order_reserve, order_ship


@subscribe("order.accepted")
def reserve_accepted_order(event: DomainEvent) -> None:
    order_reserve(payload=event.payload)


@subscribe("order.shipped")
def ship_reserved_units(event: DomainEvent) -> None:
    order_ship(payload=event.payload)


@subscribe("order.cancelled")
def release_cancelled_units(event: DomainEvent) -> None:
    order_release(payload=event.payload)
