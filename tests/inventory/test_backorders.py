"""Backorders fill themselves when stock arrives: oldest order first, only what is available,
only where the order's channel may reserve, and their exceptions close with a note."""

from __future__ import annotations

from typing import Any

import pytest

from inventory.models import Reservation
from inventory.services import allocation_set
from retailsync.celery import app as celery_app
from retailsync.core.coalesce import _client, _flag
from retailsync.core.models import ExceptionItem
from tests.conftest import events_held
from tests.inventory.conftest import event, position
from tests.inventory.test_reservations import order as reservations_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(stock, make_channel, staff, django_capture_on_commit_callbacks):
    """`web` reserves at WH1, `outlet` at WH2; no stock anywhere yet."""
    web = make_channel(code="web")
    allocation_set(channel=web.channel, locations=["WH1"])
    outlet = make_channel(code="outlet")
    allocation_set(channel=outlet.channel, locations=["WH2"])
    web.outlet = outlet
    web.ops = staff("operations")
    web.capture = django_capture_on_commit_callbacks
    return web


def order(external_id: str, placed_at: str, lines: list[tuple[str, int]], **extra: Any):
    """test_reservations' order of 10.00 units, placed when said."""
    return reservations_order(external_id, lines, placed_at=placed_at, **extra)


def accept(shop, payload, channel=None) -> int:
    with shop.capture(execute=True):
        response = (channel or shop).post_order(payload)
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def send(shop, *events: dict[str, Any]) -> None:
    with shop.capture(execute=True):
        response = shop.ops.post("/api/v1/inventory/events", list(events), format="json")
    assert response.status_code == 200, response.json()


def held(order_id: int) -> int:
    return sum(
        Reservation.objects.filter(order_id=order_id, status="active").values_list(
            "quantity", flat=True
        )
    )


def backorder(order_id: int) -> ExceptionItem:
    return ExceptionItem.objects.get(kind="backorder", object_id=str(order_id))


def test_a_receipt_reserves_the_oldest_backorder_first_and_closes_its_exception(shop):
    # The newer order arrives first: "oldest" is when it was placed, not when we heard of it.
    newer = accept(shop, order("N-1", "2026-11-05T10:00:00Z", [("TEE", 3)]))
    older = accept(shop, order("O-1", "2026-11-01T10:00:00Z", [("TEE", 2)]))
    assert (backorder(newer).details["short"], backorder(older).details["short"]) == (3, 2)

    send(shop, event("receipt", "TEE", "WH1", 2))  # 2 units for 5 wanted

    assert (held(older), held(newer)) == (2, 0)
    assert position("TEE", "WH1")["reserved"] == 2
    closed = backorder(older)
    assert closed.status == "resolved"
    assert closed.resolved_by is None  # the system, not a person
    assert closed.resolved_at is not None
    assert closed.resolution == (
        "Reserved by the system once stock was available: 2 × TEE (2 at WH1) for web order O-1; "
        "the line is held in full."
    )
    waiting = backorder(newer)
    assert waiting.status == "open"
    assert waiting.details["short"] == 3


def test_a_partly_filled_backorder_stays_open_for_the_rest(shop):
    older = accept(shop, order("O-1", "2026-11-01T10:00:00Z", [("TEE", 2)]))
    newer = accept(shop, order("N-1", "2026-11-05T10:00:00Z", [("TEE", 3)]))

    send(shop, event("receipt", "TEE", "WH1", 3))

    assert (held(older), held(newer)) == (2, 1)
    assert backorder(older).status == "resolved"
    rest = backorder(newer)
    assert rest.status == "open"
    assert rest.details["short"] == 2
    assert rest.reason == (
        "2 of 3 × TEE could not be reserved for web order N-1 (1 more reserved since: 1 at WH1)"
    )
    assert position("TEE", "WH1") == {
        "on_hand": 3,
        "reserved": 3,
        "in_transit": 0,
        "damaged": 0,
        "quality_hold": 0,
    }

    send(shop, event("receipt", "TEE", "WH1", 5))

    assert held(newer) == 3
    assert backorder(newer).status == "resolved"
    assert position("TEE", "WH1")["reserved"] == 5  # 3 of the 5 new units stay available


def test_a_backorder_of_a_channel_that_does_not_allocate_from_there_stays(shop):
    web_order = accept(shop, order("W-1", "2026-11-05T10:00:00Z", [("TEE", 1)]))
    outlet_order = accept(
        shop, order("X-1", "2026-11-01T10:00:00Z", [("TEE", 1)]), channel=shop.outlet
    )

    send(shop, event("receipt", "TEE", "WH1", 5))  # web's location, not outlet's

    assert (held(web_order), held(outlet_order)) == (1, 0)
    assert backorder(outlet_order).status == "open"
    assert position("TEE", "WH1")["reserved"] == 1

    send(shop, event("receipt", "TEE", "WH2", 1))

    assert held(outlet_order) == 1
    assert Reservation.objects.get(order_id=outlet_order).location.code == "WH2"
    assert backorder(outlet_order).status == "resolved"


def test_an_order_for_its_own_fulfilment_location_waits_for_stock_there(shop):
    order_id = accept(
        shop, order("F-1", "2026-11-01T10:00:00Z", [("TEE", 2)], fulfilment_location="WH2")
    )

    send(shop, event("receipt", "TEE", "WH1", 5))
    assert held(order_id) == 0

    send(shop, event("receipt", "TEE", "WH2", 5))
    assert held(order_id) == 2


@pytest.mark.parametrize(
    "arrival",
    [
        [event("transfer_in", "TEE", "WH1", 2)],
        [event("return_receipt", "TEE", "WH1", 2)],
        [event("adjustment", "TEE", "WH1", 2)],
        [event("count", "TEE", "WH1", 2, occurred_at="2030-01-01T00:00:00Z")],
    ],
    ids=["transfer in", "return to stock", "adjustment up", "count up"],
)
def test_every_kind_of_arrival_fills_a_backorder(shop, arrival):
    order_id = accept(shop, order("A-1", "2026-11-01T10:00:00Z", [("TEE", 2)]))

    send(shop, *arrival)

    assert held(order_id) == 2
    assert backorder(order_id).status == "resolved"


def test_units_not_yet_sellable_fill_nothing_until_they_are(shop):
    order_id = accept(shop, order("A-1", "2026-11-01T10:00:00Z", [("TEE", 2)]))

    send(
        shop,
        event("receipt", "TEE", "WH2", 2),
        event("transfer_out", "TEE", "WH2", 2, to_location="WH1"),  # in transit to WH1
        event("receipt", "TEE", "WH1", 2),
        event("quality_hold", "TEE", "WH1", 2),  # on hand at WH1, but held
    )
    assert held(order_id) == 0
    assert backorder(order_id).status == "open"

    send(shop, event("quality_release", "TEE", "WH1", 1))

    assert held(order_id) == 1
    assert backorder(order_id).details["short"] == 1


def test_a_bundle_backorder_reserves_its_components(shop):
    order_id = accept(shop, order("B-1", "2026-11-01T10:00:00Z", [("GIFTSET", 2)]))
    assert ExceptionItem.objects.filter(kind="backorder", status="open").count() == 2

    send(shop, event("receipt", "TEE", "WH1", 5), event("receipt", "MUG", "WH1", 1))

    reserved = {r.item.sku: r.quantity for r in Reservation.objects.filter(order_id=order_id)}
    assert reserved == {"TEE": 2, "MUG": 1}
    still = ExceptionItem.objects.get(kind="backorder", status="open")
    assert (still.details["sku"], still.details["short"]) == ("MUG", 1)


def test_a_cancelled_order_is_not_reserved_and_its_backorder_closes(shop):
    order_id = accept(shop, order("C-1", "2026-11-01T10:00:00Z", [("TEE", 2)]))

    with shop.capture(execute=True):
        response = shop.ops.post(f"/api/v1/orders/{order_id}/cancel", {}, format="json")
    assert response.status_code == 200

    closed = backorder(order_id)
    assert closed.status == "resolved"
    assert "was cancelled; nothing is left to reserve" in closed.resolution
    send(shop, event("receipt", "TEE", "WH1", 5))
    assert held(order_id) == 0
    assert position("TEE", "WH1")["reserved"] == 0


def test_a_backorder_shipped_from_elsewhere_closes(shop):
    order_id = accept(shop, order("S-1", "2026-11-01T10:00:00Z", [("TEE", 2)]))
    send(shop, event("receipt", "TEE", "STORE1", 2))  # not where web reserves
    assert held(order_id) == 0

    with shop.capture(execute=True):
        response = shop.ops.post(
            f"/api/v1/orders/{order_id}/shipments",
            {"location": "STORE1", "lines": [{"sku": "TEE", "quantity": 2}]},
            format="json",
        )
    assert response.status_code == 201, response.json()

    closed = backorder(order_id)
    assert closed.status == "resolved"
    assert closed.resolution == (
        "Closed by the system: the line of web order S-1 was shipped or cancelled, or is "
        "held in full; nothing is left to reserve."
    )
    assert position("TEE", "STORE1")["on_hand"] == 0


def test_a_cancellation_frees_units_for_the_next_backorder(shop):
    send(shop, event("receipt", "TEE", "WH1", 2))
    first = accept(shop, order("P-1", "2026-11-01T10:00:00Z", [("TEE", 2)]))
    second = accept(shop, order("P-2", "2026-11-02T10:00:00Z", [("TEE", 2)]))
    assert (held(first), held(second)) == (2, 0)

    with shop.capture(execute=True):
        shop.ops.post(f"/api/v1/orders/{first}/cancel", {}, format="json")

    assert (held(first), held(second)) == (0, 2)
    assert backorder(second).status == "resolved"


def test_a_channel_without_locations_says_how_to_fix_it_and_fills_once_it_has_them(shop):
    send(shop, event("receipt", "TEE", "WH2", 4))
    order_id = accept(shop, order("Z-1", "2026-11-01T10:00:00Z", [("TEE", 2)]))
    allocation_set(channel=shop.channel, locations=[])
    fresh = accept(shop, order("Z-2", "2026-11-02T10:00:00Z", [("TEE", 2)]))

    reason = backorder(fresh).reason
    assert reason == (
        "2 of 2 × TEE could not be reserved for web order Z-2: channel web has no locations "
        "to reserve at. Give it its locations with PUT /api/v1/channels/web/allocation or in "
        "the admin (Inventory › Channel allocations); its backorders are then reserved as "
        "stock allows"
    )

    with shop.capture(execute=True):
        response = shop.ops.put(
            "/api/v1/channels/web/allocation", {"locations": ["WH2"]}, format="json"
        )
    assert response.status_code == 200, response.json()

    assert (held(order_id), held(fresh)) == (2, 2)
    assert ExceptionItem.objects.filter(kind="backorder", status="open").count() == 0


def waiting_flag() -> bool:
    from inventory.tasks import backorders_fill_task

    client = _client()
    assert client is not None
    return bool(client.exists(_flag(backorders_fill_task)))


def test_stock_nobody_waits_for_asks_for_no_fill(shop):
    with events_held():
        send(shop, event("receipt", "TEE", "WH1", 5))
        assert not waiting_flag()

    order_id = accept(shop, order("W-1", "2026-11-01T10:00:00Z", [("MUG", 1)]))
    with events_held():
        send(shop, event("receipt", "TEE", "WH1", 5))  # TEE: nobody waits for it
        assert not waiting_flag()
        send(shop, event("receipt", "MUG", "WH1", 1))
        assert waiting_flag()
    assert held(order_id) == 0  # the fill went to the broker, not run here
    assert celery_app.conf.task_always_eager
