"""The domain events orders publish, each built from its contract (`orders.events`):
`order.accepted` (what inventory reserves for), `order.cancelled`, `order.shipped` and
`order.updated`. The lane says what an event contends for: an accepted order's SKUs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from retailsync.core.contracts import contract_event
from retailsync.core.events import NewEvent
from retailsync.core.models import Channel

from ..adapters.base import CanonicalOrder
from ..events import LineQuantity, OrderAccepted, OrderCancelled, OrderShipped, OrderUpdated
from ..models import Order, OrderLine, Shipment
from .rows import Saved


def cancelled_quantities(lines: Iterable[OrderLine]) -> tuple[LineQuantity, ...]:
    """What a cancellation took from each line (`fulfilment.cancel_open`'s lines)."""
    return tuple(LineQuantity(line.pk, line.sku, line.quantity_cancelled) for line in lines)


def quantities_data(quantities: Iterable[LineQuantity]) -> list[dict[str, Any]]:
    """Line quantities as an order's change record (and the API) keeps them: the event's keys."""
    return [dataclasses.asdict(q) for q in quantities]


def accepted_events(channel: Channel, saved: Saved, c: CanonicalOrder) -> list[NewEvent]:
    if c.cancelled:
        return []
    accepted = OrderAccepted(
        order_id=saved.order_id,
        channel=channel.code,
        external_id=c.external_id,
        currency=c.currency,
        total=c.total,
        fulfilment_location=c.fulfilment_location,
        channel_status=c.channel_status,
        payment_state=c.payment_state,
        placed_at=c.placed_at,
        lines=tuple(
            LineQuantity(line_id, line.sku, line.quantity)
            for line_id, line in zip(saved.line_ids, c.lines, strict=True)
        ),
    )
    return [
        contract_event(
            accepted,
            aggregate_type="order",
            aggregate_id=saved.order_id,
            lane_keys=(line.sku for line in c.lines),
        )
    ]


def cancelled_event(order: Order, cancelled: Sequence[LineQuantity], reason: str) -> NewEvent:
    payload = OrderCancelled(
        order_id=order.pk, reason=reason, status=order.status, lines=tuple(cancelled)
    )
    return contract_event(payload, aggregate_type="order", aggregate_id=order.pk)


def shipped_event(order: Order, shipment: Shipment, shipped: Sequence[LineQuantity]) -> NewEvent:
    payload = OrderShipped(
        order_id=order.pk,
        shipment_id=shipment.pk,
        location=shipment.location,
        shipped_at=shipment.shipped_at,
        tracking=shipment.tracking,
        lines=tuple(shipped),
        status=order.status,
    )
    return contract_event(payload, aggregate_type="order", aggregate_id=order.pk)


def updated_event(order: Order, changes: dict[str, Any]) -> NewEvent:
    """`changes`: field → [before, after], and "lines": what changed per line."""
    payload = OrderUpdated(order_id=order.pk, changes=changes)
    return contract_event(payload, aggregate_type="order", aggregate_id=order.pk)
