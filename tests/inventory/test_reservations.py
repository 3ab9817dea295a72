"""Reservations driven by order events: accepted reserves, shipped consumes, cancelled and
expired release, shortfalls become backorders, bundles reserve their components."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory import reservations
from inventory.models import Reservation, StockMovement
from inventory.reservations import reservations_expire
from inventory.services import allocation_set
from retailsync.core.models import ExceptionItem
from tests.inventory.conftest import event, position
from tests.orders.payloads import canonical_order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["one statement", "under locks"])
def reserving(request, monkeypatch):
    """Every case both ways: checked and written in one statement, and planned under locks."""
    monkeypatch.setattr(reservations, "ONE_STATEMENT", request.param == "one statement")
    return request.param


@pytest.fixture
def shop(stock, make_channel, staff, django_capture_on_commit_callbacks):
    """A channel fed by WH1 then WH2; WH1 holds 3 tees and 5 mugs, WH2 holds 4 tees."""
    web = make_channel(code="web")
    allocation_set(channel=web.channel, locations=["WH1", "WH2"])
    ops = staff("operations")
    ops.post(
        "/api/v1/inventory/events",
        [
            event("receipt", "TEE", "WH1", 3),
            event("receipt", "MUG", "WH1", 5),
            event("receipt", "TEE", "WH2", 4),
        ],
        format="json",
    )
    web.ops = ops
    web.capture = django_capture_on_commit_callbacks
    return web


def order(external_id: str, lines: list[tuple[str, int]], **extra):
    """A canonical order of 10.00 units, no tax or shipping, so totals add up."""
    return canonical_order(
        external_id=external_id,
        fulfilment_location=extra.pop("fulfilment_location", ""),
        lines=[
            {"sku": sku, "quantity": q, "unit_price": "10.00", "discount": "0", "tax": "0"}
            for sku, q in lines
        ],
        shipping={"amount": "0", "discount": "0", "tax": "0"},
        total=f"{10 * sum(q for _, q in lines)}.00",
        payments=[],
        **extra,
    )


def accept(shop, payload):
    with shop.capture(execute=True):
        response = shop.post_order(payload)
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def test_an_accepted_order_reserves_by_location_priority_and_splits(shop):
    order_id = accept(shop, order("A1", [("TEE", 5), ("MUG", 2)]))

    assert position("TEE", "WH1")["reserved"] == 3
    assert position("TEE", "WH2")["reserved"] == 2
    assert position("MUG", "WH1")["reserved"] == 2
    held = Reservation.objects.filter(order_id=order_id, status="active")
    assert sorted((r.item.sku, r.location.code, r.quantity) for r in held) == [
        ("MUG", "WH1", 2),
        ("TEE", "WH1", 3),
        ("TEE", "WH2", 2),
    ]


def test_the_orders_own_fulfilment_location_wins(shop):
    accept(shop, order("A2", [("TEE", 2)], fulfilment_location="WH2"))
    assert (position("TEE", "WH1")["reserved"], position("TEE", "WH2")["reserved"]) == (0, 2)


def test_a_short_order_is_accepted_reserves_what_there_is_and_queues_a_backorder(shop):
    accept(shop, order("A3", [("TEE", 9)]))

    assert position("TEE", "WH1")["reserved"] == 3
    assert position("TEE", "WH2")["reserved"] == 4
    backorder = ExceptionItem.objects.get(kind="backorder")
    assert backorder.details["short"] == 2
    assert "2 of 9 × TEE could not be reserved" in backorder.reason
    feed = shop.client.get(
        "/api/v1/channels/web/availability", HTTP_AUTHORIZATION=f"Token {shop.token}"
    ).json()
    assert {i["sku"]: i["available"] for i in feed["items"]}["TEE"] == 0


def test_a_bundle_reserves_its_components(shop):
    accept(shop, order("A4", [("GIFTSET", 2)]))
    assert position("TEE", "WH1")["reserved"] == 2
    assert position("MUG", "WH1")["reserved"] == 2


def test_shipping_moves_reserved_units_out_of_on_hand_in_one_change(shop):
    order_id = accept(shop, order("A5", [("TEE", 2), ("MUG", 1)]))

    with shop.capture(execute=True):
        response = shop.ops.post(
            f"/api/v1/orders/{order_id}/shipments",
            {"location": "WH1", "lines": [{"sku": "TEE", "quantity": 2}]},
            format="json",
        )

    assert response.status_code == 201
    tee = position("TEE", "WH1")
    assert (tee["on_hand"], tee["reserved"]) == (1, 0)
    assert position("MUG", "WH1")["reserved"] == 1
    assert Reservation.objects.get(item__sku="TEE").status == "shipped"


def test_cancelling_releases_the_reservation(shop):
    order_id = accept(shop, order("A6", [("TEE", 2), ("MUG", 3)]))

    with shop.capture(execute=True):
        shop.ops.post(
            f"/api/v1/orders/{order_id}/cancel",
            {"lines": [{"sku": "MUG", "quantity": 2}]},
            format="json",
        )

    assert position("MUG", "WH1")["reserved"] == 1
    assert position("TEE", "WH1")["reserved"] == 2
    with shop.capture(execute=True):
        shop.ops.post(f"/api/v1/orders/{order_id}/cancel", {}, format="json")
    assert position("MUG", "WH1")["reserved"] == 0
    assert position("TEE", "WH1")["reserved"] == 0
    assert set(Reservation.objects.values_list("status", flat=True)) == {"released"}


def test_unpaid_orders_reservations_expire_and_are_released(shop):
    allocation_set(channel=shop.channel, locations=["WH1", "WH2"], reservation_ttl_minutes=30)
    accept(shop, order("A7", [("TEE", 2)], status="pending"))
    accept(shop, order("A8", [("MUG", 1)]))  # paid: no expiry
    assert position("TEE", "WH1")["reserved"] == 2

    assert reservations_expire(now=timezone.now() + timedelta(minutes=29)) == 0
    assert reservations_expire(now=timezone.now() + timedelta(minutes=31)) == 2

    assert position("TEE", "WH1")["reserved"] == 0
    assert position("MUG", "WH1")["reserved"] == 1
    assert Reservation.objects.get(item__sku="TEE").status == "expired"


def test_an_order_for_an_unknown_sku_is_accepted_with_an_exception(shop):
    accept(shop, order("A9", [("NOT-IN-MASTER", 1)]))
    assert ExceptionItem.objects.get(kind="unknown_sku").details["sku"] == "NOT-IN-MASTER"


def test_the_same_event_dispatched_twice_reserves_once(shop):
    from retailsync.core.models import DomainEvent
    from retailsync.core.relay import events_dispatch

    accept(shop, order("A10", [("TEE", 1)]))
    events_dispatch(event_ids=[DomainEvent.objects.get(name="order.accepted").pk])

    assert position("TEE", "WH1")["reserved"] == 1


def test_an_order_at_one_location_reserves_what_there_is_and_says_what_is_missing(shop):
    """One location to reserve at: on PostgreSQL the one-statement path, which must behave
    exactly like the path under locks (the fixture runs this test both ways)."""
    allocation_set(channel=shop.channel, locations=["WH1", "WH2"], reservation_ttl_minutes=30)
    before = timezone.now()
    order_id = accept(
        shop,
        order(
            "A11",
            [("TEE", 5), ("MUG", 1), ("NOT-IN-MASTER", 1)],
            fulfilment_location="WH1",
            status="pending",
        ),
    )

    held = {r.item.sku: r for r in Reservation.objects.filter(order_id=order_id)}
    assert {sku: (r.quantity, r.requested) for sku, r in held.items()} == {
        "TEE": (3, 5),
        "MUG": (1, 1),
    }
    expires = held["TEE"].expires_at
    assert before + timedelta(minutes=30) <= expires <= timezone.now() + timedelta(minutes=30)
    assert (position("TEE", "WH1")["reserved"], position("TEE", "WH2")["reserved"]) == (3, 0)
    assert position("MUG", "WH1")["reserved"] == 1
    backorder = ExceptionItem.objects.get(kind="backorder")
    assert backorder.reason == "2 of 5 × TEE could not be reserved for web order A11"
    line_id = held["TEE"].order_line_id
    assert backorder.details == {
        "order_id": order_id,
        "line_id": line_id,
        "sku": "TEE",
        "short": 2,
        "requested": 5,
    }
    assert backorder.dedupe_key == f"backorder:{line_id}:{held['TEE'].item_id}"
    assert backorder.object_label == "web order A11"
    assert ExceptionItem.objects.get(kind="unknown_sku").details["sku"] == "NOT-IN-MASTER"
    ledger = StockMovement.objects.filter(reason="reservation", reference_id=str(order_id))
    assert sorted((m.item.sku, m.reserved) for m in ledger) == [("MUG", 1), ("TEE", 3)]


def test_an_order_of_many_unknown_skus_opens_one_exception_that_lists_them(shop):
    lines = [(f"GHOST-{n:04d}", 1) for n in range(300)] + [("TEE", 1)]
    accept(shop, order("A-MANY", lines))

    [item] = ExceptionItem.objects.filter(kind="unknown_sku")
    assert item.details["count"] == 300
    assert item.details["skus"] == [f"GHOST-{n:04d}" for n in range(300)]
    assert item.reason.startswith(
        "web order A-MANY sells 300 SKU(s) not in the item master: 'GHOST-0000', 'GHOST-0001'"
    )
    assert item.reason.endswith("and 290 more")
    assert position("TEE", "WH1")["reserved"] == 1  # the known line is reserved all the same
