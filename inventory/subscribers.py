"""Inventory's answers to order events (dispatched by the core's outbox, each exactly once)."""

from __future__ import annotations

from collections.abc import Sequence

from retailsync.core.events import subscribe, subscribe_many
from retailsync.core.models import DomainEvent

from .backorders import backorders_recheck, backorders_wake
from .reservations import order_release, order_ship, orders_reserve
from .reserving import Accepted


@subscribe_many("order.accepted")
def reserve_accepted_order(events: Sequence[DomainEvent]) -> None:
    """A chunk of accepted orders at once, in the order they were accepted (one statement for
    the simple ones: a hot SKU's position is updated once per chunk, not once per order)."""
    orders_reserve(orders=[Accepted(e.payload, e.correlation_id) for e in events])


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
