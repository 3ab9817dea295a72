"""Backorders filled while stock arrives and new orders reserve, all at once on PostgreSQL:
no unit is reserved twice, no line gets more than it asked for, and every backorder's state
says what its line still lacks."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.models import Sum

from inventory.backorders import backorders_fill
from inventory.models import Position, Reservation
from inventory.reservations import order_reserve
from inventory.services import EventInput, allocation_set, stock_events_apply
from orders.services import orders_ingest
from retailsync.core.models import DomainEvent, ExceptionItem
from tests.conftest import events_held
from tests.factories import ChannelFactory
from tests.inventory.test_reservations import order

pytestmark = pytest.mark.django_db(transaction=True)


def test_fills_racing_arrivals_and_new_orders_never_reserve_a_unit_twice(stock):
    channel = ChannelFactory(code="web")
    allocation_set(channel=channel, locations=["WH1", "WH2"])
    now = datetime(2026, 11, 20, tzinfo=UTC)
    with events_held():
        orders_ingest(
            channel=channel,
            headers={},
            payloads=[order(f"B{i}", [("TEE", 1 + i % 3)]) for i in range(30)],
        )
    payloads = [e.payload for e in DomainEvent.objects.filter(name="order.accepted")]
    for payload in payloads[:12]:  # nothing in stock: all of them wait
        order_reserve(payload=payload)
    assert ExceptionItem.objects.filter(kind="backorder", status="open").count() == 12
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def run(work) -> None:  # type: ignore[no-untyped-def]
        try:
            barrier.wait()
            work()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def arrive(n: int) -> None:
        for k in range(5):
            stock_events_apply(
                events=[EventInput(f"r{n}-{k}", "wms", "receipt", "TEE", f"WH{1 + k % 2}", 1, now)]
            )

    def reserve(batch: list[dict]) -> None:
        for payload in batch:
            order_reserve(payload=payload)

    def fill() -> None:
        for _ in range(4):
            backorders_fill()

    threads = [threading.Thread(target=run, args=(lambda n=n: arrive(n),)) for n in range(3)]
    threads += [
        threading.Thread(target=run, args=(lambda b=payloads[12 + i :: 3]: reserve(b),))
        for i in range(3)
    ]
    threads += [threading.Thread(target=run, args=(fill,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == []
    for p in Position.objects.all():
        assert p.reserved <= p.on_hand
        active = Reservation.objects.filter(item=p.item, location=p.location, status="active")
        assert (active.aggregate(n=Sum("quantity"))["n"] or 0) == p.reserved
    assert sum(p.reserved for p in Position.objects.all()) == 15  # 15 arrived, 42 wanted
    wanted = {line["line_id"]: line["quantity"] for p in payloads for line in p["lines"]}
    held = dict(
        Reservation.objects.values("order_line_id")
        .annotate(n=Sum("quantity"))
        .values_list("order_line_id", "n")
    )
    assert all(held.get(line, 0) <= n for line, n in wanted.items())
    for e in ExceptionItem.objects.filter(kind="backorder"):
        line = e.details["line_id"]
        if e.status == "open":
            assert e.details["short"] == wanted[line] - held.get(line, 0), e.reason
        else:
            assert held.get(line, 0) == wanted[line], e.resolution
