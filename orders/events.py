"""What orders tells the other apps: the payloads of its events (`retailsync.core.contracts`).

The outbox's JSON keeps these keys. Every publish site builds its event from these
(`orders.services.events`); `orders.services.insert_one` writes `order.accepted` in SQL from the
same encoded payload the ORM path writes, plus the ids it draws (`order_id`, each line's
`line_id`), and tests/core/test_events_contracts.py holds the two paths equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from retailsync.core.contracts import contract


@dataclass(frozen=True, slots=True)
class LineQuantity:
    """Units of one order line: accepted, shipped or cancelled, as the event says."""

    line_id: int
    sku: str
    quantity: int


@contract("order.accepted")
@dataclass(frozen=True, slots=True)
class OrderAccepted:
    order_id: int
    channel: str
    external_id: str
    currency: str
    total: Decimal  # in `currency`
    fulfilment_location: str
    channel_status: str
    placed_at: datetime
    lines: tuple[LineQuantity, ...]
    # "paid" or "unpaid", as the channel's adapter reads its status (an unpaid order's
    # reservations expire); events written before the field existed are read as paid.
    payment_state: str = "paid"


@contract("order.updated")
@dataclass(frozen=True, slots=True)
class OrderUpdated:
    order_id: int
    changes: dict[str, Any]  # field → [before, after], and "lines": what changed per line


@contract("order.shipped")
@dataclass(frozen=True, slots=True)
class OrderShipped:
    order_id: int
    shipment_id: int
    location: str
    shipped_at: datetime
    tracking: str
    lines: tuple[LineQuantity, ...]
    status: str  # the order's, after the shipment


@contract("order.cancelled")
@dataclass(frozen=True, slots=True)
class OrderCancelled:
    order_id: int
    reason: str
    status: str  # the order's, after the cancellation
    lines: tuple[LineQuantity, ...]  # quantity: the units this cancellation took
