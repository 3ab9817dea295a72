"""Inventory's answers to order events (dispatched by the core's outbox, each exactly once),
each taking the event's typed payload (`orders.events`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from django.db.models import Exists, F, OuterRef

from orders.events import OrderAccepted, OrderCancelled, OrderShipped
from orders.models import OrderLine
from retailsync.core.contracts import Typed, payload_encode, subscribe_many_to, subscribe_to
from retailsync.core.models import DomainEvent

from .backorders import backorders_recheck, backorders_wake
from .models import Reservation
from .reservations import order_release, order_ship, orders_reserve
from .reserving import Accepted


@subscribe_many_to(OrderAccepted)
def reserve_accepted_order(accepted: Sequence[Typed[OrderAccepted]]) -> None:
    """A chunk of accepted orders at once, in the order they were accepted (one statement for
    the simple ones: a hot SKU's position is updated once per chunk, not once per order).

    Only what is still open is reserved: an acceptance handled after the order's shipment or
    cancellation (retried, or replayed) would otherwise reserve units nothing releases."""
    open_now = _open_quantities([a.payload.order_id for a in accepted])
    orders = [_still_open(a, open_now) for a in accepted]
    orders_reserve(orders=[order for order in orders if order is not None])


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


def _still_open(accepted: Typed[OrderAccepted], open_now: Mapping[int, int]) -> Accepted | None:
    """The acceptance with only its open units; None if none is left open."""
    payload, event = accepted.payload, accepted.event
    lines = tuple(
        replace(line, quantity=min(line.quantity, open_now.get(line.line_id, line.quantity)))
        for line in payload.lines
    )
    if lines == payload.lines:  # as accepted: nothing shipped or cancelled
        return Accepted(event.payload, event.correlation_id)
    lines = tuple(line for line in lines if line.quantity > 0)
    if not lines:
        return None
    return Accepted(payload_encode(replace(payload, lines=lines)), event.correlation_id)


@subscribe_to(OrderShipped)
def ship_reserved_units(shipped: OrderShipped, event: DomainEvent) -> None:
    order_ship(payload=event.payload)
    backorders_recheck(order_id=shipped.order_id)  # shipped without waiting


@subscribe_to(OrderCancelled)
def release_cancelled_units(cancelled: OrderCancelled, event: DomainEvent) -> None:
    released = order_release(payload=event.payload)
    backorders_recheck(order_id=cancelled.order_id)
    if released:
        backorders_wake()  # the units freed may be what another order waits for
