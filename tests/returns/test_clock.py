"""The clock a caller gives is the only one a return's lifecycle reads: every time it stamps,
in returns and in what it asks of inventory and orders, is the time of the step that made it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from inventory.models import StockEvent, StockMovement
from orders.models import Order
from retailsync.core.models import DomainEvent
from returns import services
from returns.models import RefundPayment, Return, ReturnReceipt, ReturnTransition
from tests.returns.conftest import shipped_order

pytestmark = pytest.mark.django_db


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


def test_every_time_a_return_stamps_is_the_clock_its_caller_gave(shop):
    """Shipped on 11 November; one jacket exchanged for a larger one and one scarf refunded,
    each step on its own day, none of them today."""
    order_id = shipped_order(shop)
    jacket, scarf = Order.objects.get(pk=order_id).lines.order_by("pk")
    requested, authorized, received, inspected, refunded, closed = (
        at(20, 9),
        at(21, 10),
        at(24, 11),
        at(25, 12),
        at(26, 13),
        at(27, 14),
    )

    before = DomainEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    ret = services.return_request(
        order_id=order_id,
        lines=[
            services.LineInput(1, "too_small", line_id=jacket.pk, replacement_sku="JACKET-L"),
            services.LineInput(1, "changed_mind", line_id=scarf.pk),
        ],
        now=requested,
    )
    services.return_authorize(return_id=ret.pk, now=authorized)
    services.return_receive(return_id=ret.pk, location="WH1", now=received)
    services.return_inspect(
        return_id=ret.pk,
        lines=[
            services.Disposition(restock=1, line_id=jacket.pk),
            services.Disposition(damaged=1, line_id=scarf.pk),
        ],
        now=inspected,
    )
    services.return_refund(return_id=ret.pk, now=refunded)
    services.return_close(return_id=ret.pk, now=closed)

    ret = Return.objects.get(pk=ret.pk)
    assert ret.status == "closed"
    assert (ret.created_at, ret.updated_at) == (requested, closed)
    timeline = ReturnTransition.objects.filter(ret=ret).order_by("pk")
    assert [(t.to_status, t.at) for t in timeline] == [
        ("requested", requested),
        ("authorized", authorized),
        ("received", received),
        ("inspected", inspected),
        ("refunded", refunded),
        ("closed", closed),
    ]
    assert [r.at for r in ReturnReceipt.objects.filter(line__ret=ret)] == [received, received]

    # The exchange order is placed, and written, at the authorization.
    exchange = Order.objects.get(pk=ret.exchange_order_id)
    assert (exchange.placed_at, exchange.created_at, exchange.updated_at) == (authorized,) * 3

    # Stock: each event and each movement it made, when it happened and when it was recorded.
    events = StockEvent.objects.filter(source="returns", reference=f"RMA-{ret.pk}")
    assert sorted((e.occurred_at, e.type, e.item.sku, e.received_at) for e in events) == [
        (received, "quality_hold", "JACKET", received),
        (received, "quality_hold", "SCARF", received),
        (received, "return_receipt", "JACKET", received),
        (received, "return_receipt", "SCARF", received),
        (inspected, "damage", "SCARF", inspected),
        (inspected, "quality_release", "JACKET", inspected),
        (inspected, "quality_release", "SCARF", inspected),
    ]
    movements = StockMovement.objects.filter(event__in=events).select_related("event")
    assert movements.exists()
    assert {(m.event.type, m.occurred_at, m.recorded_at) for m in movements} == {
        (e.type, e.occurred_at, e.occurred_at) for e in events
    }

    # The refund: the jacket's 78.12 less the larger jacket's 80.00, plus the scarf's 19.17.
    [payment] = RefundPayment.objects.filter(ret=ret)
    assert (payment.amount, payment.created_at) == (ret.refund_amount, refunded)
    assert str(payment.amount) == "17.2900"

    # The events each step published, recorded at the step's time.
    published = DomainEvent.objects.filter(pk__gt=before).order_by("pk")
    assert [(e.name, e.created_at) for e in published] == [
        ("order.accepted", authorized),  # the exchange order
        ("stock.events_applied", received),  # the goods back, on hold where inspected
        ("return.received", received),
        ("stock.events_applied", inspected),  # released to stock, or damaged
        ("return.refunded", refunded),
        ("return.closed", closed),
    ]
