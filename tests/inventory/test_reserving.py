"""A chunk of accepted orders reserved at once (the relay's way) ends exactly as reserving them
one after the other under locks: the same reservations, stock, ledger and backorders, with
simple and general orders, bundles, unknown SKUs, unpaid orders and scarce stock mixed."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import transaction

from inventory import reservations
from inventory.models import Position, Reservation, StockMovement
from inventory.reservations import orders_reserve
from inventory.reserving import Accepted
from inventory.services import EventInput, allocation_set, stock_events_apply
from orders.services import orders_ingest
from retailsync.core.models import DomainEvent, ExceptionItem
from tests.conftest import events_held
from tests.factories import ChannelFactory
from tests.inventory.test_reservations import order

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def shapes(rng: random.Random) -> tuple[str, dict[str, Any]]:
    """A channel and an order: mostly simple (one location, distinct plain items), sometimes a
    bundle, a repeated SKU, an unknown SKU, a fixed location or an unpaid status."""
    skus = rng.sample(["TEE", "MUG", "CAP"], rng.randint(1, 3))
    lines = [(sku, rng.randint(1, 3)) for sku in skus]
    extra: dict[str, Any] = {}
    roll = rng.random()
    if roll < 0.1:
        lines.append(("GIFTSET", 1))
    elif roll < 0.15:
        lines.append((lines[0][0], 1))
    elif roll < 0.2:
        lines.append(("NOT-IN-MASTER", 2))
    if rng.random() < 0.15:
        extra["fulfilment_location"] = rng.choice(["STORE1", "WH2", "NOWHERE"])
    if rng.random() < 0.2:
        extra["channel_status"] = "pending"
    return rng.choice(["web", "web", "web", "split"]), {"lines": lines, **extra}


def outcome() -> dict[str, Any]:
    """Everything reserving writes, without ids and times that differ between runs."""
    return {
        "reservations": sorted(
            Reservation.objects.values_list(
                "order_id",
                "order_line_id",
                "item__sku",
                "location__code",
                "quantity",
                "requested",
                "status",
                "expires_at",
                "correlation_id",
            )
        ),
        # (The path under locks creates the empty positions it looks at; the statement not.)
        "positions": sorted(
            Position.objects.exclude(on_hand=0, reserved=0).values_list(
                "item__sku", "location__code", "on_hand", "reserved"
            )
        ),
        "ledger": sorted(
            StockMovement.objects.filter(reason="reservation").values_list(
                "item__sku", "location__code", "reserved", "reference_id", "correlation_id"
            )
        ),
        "exceptions": sorted(
            ExceptionItem.objects.values_list(
                "kind", "dedupe_key", "reason", "details", "object_label", "occurrences"
            ),
            key=repr,
        ),
    }


def reserved(chunk: list[Accepted], one_statement: bool, monkeypatch) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(reservations, "ONE_STATEMENT", one_statement)
    with transaction.atomic():
        if one_statement:
            made = orders_reserve(orders=chunk, now=NOW)
        else:
            made = [orders_reserve(orders=[accepted], now=NOW)[0] for accepted in chunk]
        result = outcome()
        result["returned"] = [
            sorted((r.order_line_id, r.item_id, r.location_id, r.quantity) for r in rs)
            for rs in made
        ]
        transaction.set_rollback(True)
    return result


@pytest.mark.parametrize("seed", range(6))
def test_a_chunk_reserved_in_one_go_ends_as_the_orders_one_after_the_other(
    stock, seed, monkeypatch
):
    rng = random.Random(seed)
    web, split = ChannelFactory(code="web"), ChannelFactory(code="split")
    allocation_set(channel=web, locations=["WH1"], reservation_ttl_minutes=30)
    allocation_set(channel=split, locations=["WH1", "WH2"])
    stock_events_apply(
        events=[
            EventInput(f"seed-{sku}-{loc}", "wms", "receipt", sku, loc, units, NOW)
            for sku, loc, units in (
                ("TEE", "WH1", 12),
                ("TEE", "WH2", 4),
                ("MUG", "WH1", 9),
                ("CAP", "WH1", 5),
                ("CAP", "STORE1", 3),
            )
        ]
    )
    channels = {"web": web, "split": split}
    with events_held():
        for n in range(40):
            code, shape = shapes(rng)
            orders_ingest(
                channel=channels[code],
                headers={},
                payloads=[order(f"S{seed}-{n}", shape.pop("lines"), **shape)],
            )
    chunk = [
        Accepted(e.payload, f"cid-{e.pk}")
        for e in DomainEvent.objects.filter(name="order.accepted").order_by("pk")
    ]
    # An order listed twice is reserved twice, as two calls would.
    chunk.insert(7, chunk[3])

    in_one_go = reserved(chunk, True, monkeypatch)
    one_by_one = reserved(chunk, False, monkeypatch)

    assert in_one_go == one_by_one
    assert in_one_go["reservations"]  # stock was there to reserve ...
    assert any(kind == "backorder" for kind, *_ in in_one_go["exceptions"])  # ... and ran out
