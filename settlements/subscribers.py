"""Settlements' answers to order and return events: what money to expect."""

from __future__ import annotations

from collections.abc import Sequence

from orders.events import OrderAccepted
from retailsync.core.contracts import Typed, subscribe_many_to, subscribe_to
from retailsync.core.models import DomainEvent
from returns.events import ReturnRefunded

from .expected import charges_expect, refund_expect


@subscribe_many_to(OrderAccepted)
def expect_captured_payments(accepted: Sequence[Typed[OrderAccepted]]) -> None:
    paid = [a.payload.order_id for a in accepted if a.payload.payment_state == "paid"]
    if paid:
        charges_expect(paid, now=max(a.event.created_at for a in accepted))


@subscribe_to(ReturnRefunded)
def expect_refund(refunded: ReturnRefunded, event: DomainEvent) -> None:
    if refunded.method == "original" and refunded.amount:
        refund_expect(
            return_id=refunded.return_id,
            order_id=refunded.order_id,
            source=f"return:{refunded.return_id}:event:{event.pk}",
            now=event.created_at,
        )
