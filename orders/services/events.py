"""The domain events orders publish, as their payloads are built: `order.accepted` (what inventory
reserves for), `order.cancelled`; `order.updated` and `order.shipped` are built where they
happen."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from retailsync.core.events import NewEvent, lane_of
from retailsync.core.models import Channel

from ..adapters.base import CanonicalOrder
from ..models import Order, OrderLine
from .rows import Saved


def line_event_data(
    lines: Iterable[OrderLine], quantity_of: str = "quantity"
) -> list[dict[str, Any]]:
    return [
        {"line_id": line.pk, "sku": line.sku, "quantity": getattr(line, quantity_of)}
        for line in lines
    ]


def accepted_events(channel: Channel, saved: Saved, c: CanonicalOrder) -> list[NewEvent]:
    if c.cancelled:
        return []
    return [
        NewEvent(
            "order.accepted",
            "order",
            saved.order_id,
            {
                "order_id": saved.order_id,
                "channel": channel.code,
                "external_id": c.external_id,
                "currency": c.currency,
                "total": c.total,
                "fulfilment_location": c.fulfilment_location,
                "channel_status": c.channel_status,
                "payment_state": c.payment_state,
                "placed_at": c.placed_at,
                "lines": [
                    {"line_id": line_id, "sku": line.sku, "quantity": line.quantity}
                    for line_id, line in zip(saved.line_ids, c.lines, strict=True)
                ],
            },
            lane=lane_of(line.sku for line in c.lines),
        )
    ]


def cancelled_event(order: Order, cancelled: Sequence[OrderLine], reason: str) -> NewEvent:
    return NewEvent(
        "order.cancelled",
        "order",
        order.pk,
        {
            "order_id": order.pk,
            "reason": reason,
            "status": order.status,
            "lines": line_event_data(cancelled, "quantity_cancelled"),
        },
    )
