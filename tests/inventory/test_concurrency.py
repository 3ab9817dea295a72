"""Many clients against few units on PostgreSQL: reservations from single-line, multi-line and
bundle orders racing each other and stock events, with zero oversells and no deadlocks."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from inventory import reservations
from inventory.models import Position, Reservation, StockMovement
from inventory.reservations import order_reserve
from inventory.services import EventInput, allocation_set, stock_events_apply
from orders.services import orders_ingest
from retailsync.core.errors import DomainError
from retailsync.core.models import DomainEvent, ExceptionItem
from tests.conftest import events_held
from tests.factories import ChannelFactory
from tests.inventory.test_reservations import order

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 24


@pytest.mark.parametrize("one_statement", [True, False], ids=["one statement", "under locks"])
def test_concurrent_reservations_and_events_never_oversell(stock, one_statement, monkeypatch):
    monkeypatch.setattr(reservations, "ONE_STATEMENT", one_statement)
    channel = ChannelFactory(code="web")
    allocation_set(channel=channel, locations=["WH1", "WH2"])
    now = datetime(2026, 11, 20, tzinfo=UTC)
    stock_events_apply(
        events=[
            EventInput("seed-1", "wms", "receipt", "TEE", "WH1", 6, now),
            EventInput("seed-2", "wms", "receipt", "TEE", "WH2", 4, now),
            EventInput("seed-3", "wms", "receipt", "MUG", "WH1", 7, now),
        ]
    )
    rng = random.Random(7)
    shapes = [[("TEE", 1)], [("TEE", 1), ("MUG", 1)], [("GIFTSET", 1)], [("MUG", 2), ("TEE", 2)]]
    with events_held():  # the clients below reserve, racing each other
        orders_ingest(
            channel=channel,
            headers={},
            payloads=[order(f"C{i}", rng.choice(shapes)) for i in range(CLIENTS * 2)],
        )
    payloads = [e.payload for e in DomainEvent.objects.filter(name="order.accepted")]
    requested = {"TEE": 0, "MUG": 0}
    for p in payloads:
        for line in p["lines"]:
            for sku in ("TEE", "MUG") if line["sku"] == "GIFTSET" else (line["sku"],):
                requested[sku] += line["quantity"]

    errors: list[BaseException] = []
    barrier = threading.Barrier(CLIENTS + 2)

    def reserve(batch: list[dict]) -> None:
        try:
            barrier.wait()
            for payload in batch:
                order_reserve(payload=payload)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def churn(source: str) -> None:
        # Stock moving at the same time, only ever taking sellable units (so availability can
        # only fall): adjustments out and damage, refused when they would take reserved units.
        try:
            barrier.wait()
            for n in range(10):
                kind, qty = ("damage", 1) if n % 2 else ("adjustment", -1)
                # Refused when it would take reserved units: that is the point.
                with contextlib.suppress(DomainError):
                    stock_events_apply(
                        events=[
                            EventInput(
                                f"{source}-{n}",
                                source,
                                kind,
                                "TEE",
                                "WH1" if n % 3 else "WH2",
                                qty,
                                now,
                            )
                        ]
                    )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=reserve, args=(payloads[i::CLIENTS],)) for i in range(CLIENTS)
    ]
    threads += [threading.Thread(target=churn, args=(f"store-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == []
    for p in Position.objects.all():
        assert p.reserved + p.damaged + p.quality_hold <= p.on_hand
        held = Reservation.objects.filter(item=p.item, location=p.location, status="active")
        assert (held.aggregate(n=Sum("quantity"))["n"] or 0) == p.reserved
    for sku in ("TEE", "MUG"):
        positions = Position.objects.filter(item__sku=sku)
        on_hand = sum(p.on_hand for p in positions)
        reserved = sum(p.reserved for p in positions)
        sellable = on_hand - sum(p.damaged + p.quality_hold for p in positions)
        # Far more was ordered than stocked: every sellable unit ended up reserved.
        assert requested[sku] > 10
        assert reserved == sellable, sku
        assert all(p.available == 0 for p in positions)
    shortfall = sum(r.requested for r in Reservation.objects.all()) - sum(
        r.quantity for r in Reservation.objects.all()
    )
    assert shortfall >= 0
    if sum(requested.values()) > 17:
        assert ExceptionItem.objects.filter(kind="backorder").exists()


@pytest.mark.parametrize("one_statement", [True, False], ids=["one statement", "under locks"])
def test_an_order_waiting_for_a_positions_lock_reserves_from_what_is_left(
    stock, one_statement, monkeypatch
):
    """3 tees at WH1; a transaction still in flight takes 2 of them while the order for 2
    arrives. The order waits for that row lock, then sees the 1 left, not the 3 it would have
    read before: 1 reserved, 1 on backorder, nothing oversold."""
    monkeypatch.setattr(reservations, "ONE_STATEMENT", one_statement)
    channel = ChannelFactory(code="web")
    allocation_set(channel=channel, locations=["WH1"])
    now = datetime(2026, 11, 20, tzinfo=UTC)
    stock_events_apply(events=[EventInput("seed", "wms", "receipt", "TEE", "WH1", 3, now)])
    with events_held():
        orders_ingest(channel=channel, headers={}, payloads=[order("R1", [("TEE", 2)])])
    payload = DomainEvent.objects.get(name="order.accepted").payload

    taken, release = threading.Event(), threading.Event()

    def adjust() -> None:
        try:
            with transaction.atomic():
                stock_events_apply(
                    events=[EventInput("out-1", "wms", "adjustment", "TEE", "WH1", -2, now)]
                )
                taken.set()
                release.wait(10)
        finally:
            connection.close()

    other = threading.Thread(target=adjust)
    other.start()
    assert taken.wait(10)
    threading.Timer(0.3, release.set).start()  # commits while the order waits for the lock
    began = time.monotonic()
    made = order_reserve(payload=payload)
    waited = time.monotonic() - began
    other.join(10)

    assert waited >= 0.25  # it did wait for the lock
    assert [(r.quantity, r.requested) for r in made] == [(1, 2)]
    tee = Position.objects.get(item__sku="TEE", location__code="WH1")
    assert (tee.on_hand, tee.reserved) == (1, 1)
    backorder = ExceptionItem.objects.get(kind="backorder")
    assert backorder.details["short"] == 1
    assert backorder.reason == "1 of 2 × TEE could not be reserved for " + (
        f"{payload['channel']} order {payload['external_id']}"
    )
    assert StockMovement.objects.filter(reason="reservation").count() == 1
