"""Shipments and cancellations: what they allow, what they refuse, and the events they emit."""

from __future__ import annotations

import pytest

from orders.models import Order, OrderLine
from retailsync.core.models import DomainEvent
from tests.orders.payloads import canonical_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def order_id(channel):
    return channel.post_order(canonical_order()).json()["id"]


def test_a_partial_shipment_moves_the_order_to_partially_shipped_and_emits_order_shipped(
    order_id, staff
):
    ops = staff("operations")
    response = ops.post(
        f"/api/v1/orders/{order_id}/shipments",
        {
            "location": "WH1",
            "lines": [{"sku": "TSHIRT-BLK-M", "quantity": 1}],
            "shipped_at": "2026-11-21T10:00:00Z",
            "tracking": "1Z999",
            "id": "SHP-1",
        },
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["lines"][0]["quantity"] == 1
    assert Order.objects.get().status == "partially_shipped"
    event = DomainEvent.objects.get(name="order.shipped")
    assert event.payload["lines"] == [
        {"line_id": response.json()["lines"][0]["line_id"], "sku": "TSHIRT-BLK-M", "quantity": 1}
    ]
    assert event.payload["location"] == "WH1"


def test_the_same_shipment_id_twice_ships_once(order_id, staff):
    ops = staff("operations")
    body = {"location": "WH1", "lines": [{"sku": "MUG-WHT", "quantity": 1}], "id": "SHP-7"}

    first = ops.post(f"/api/v1/orders/{order_id}/shipments", body, format="json")
    again = ops.post(f"/api/v1/orders/{order_id}/shipments", body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert OrderLine.objects.get(sku="MUG-WHT").quantity_shipped == 1
    assert DomainEvent.objects.filter(name="order.shipped").count() == 1


def test_shipping_more_than_was_ordered_is_a_422_and_ships_nothing(order_id, staff):
    response = staff("operations").post(
        f"/api/v1/orders/{order_id}/shipments",
        {
            "location": "WH1",
            "lines": [
                {"sku": "TSHIRT-BLK-M", "quantity": 3},
                {"sku": "NOT-ON-ORDER", "quantity": 1},
            ],
        },
        format="json",
    )

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "lines[0].quantity", "message": "3 to ship but only 2 of TSHIRT-BLK-M left open"},
        {"field": "lines[1].sku", "message": "'NOT-ON-ORDER' is not on this order"},
    ]
    assert sum(OrderLine.objects.values_list("quantity_shipped", flat=True)) == 0


def test_a_shipment_for_a_missing_order_is_a_404(staff, db):
    response = staff("operations").post(
        "/api/v1/orders/999999/shipments",
        {"location": "WH1", "lines": [{"sku": "X", "quantity": 1}]},
        format="json",
    )
    assert response.status_code == 404


def test_a_shipment_without_lines_or_location_is_a_400(order_id, staff):
    response = staff("operations").post(
        f"/api/v1/orders/{order_id}/shipments", {"lines": []}, format="json"
    )
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"location", "lines"}


def test_cancel_releases_what_has_not_shipped(order_id, staff):
    ops = staff("operations")
    ops.post(
        f"/api/v1/orders/{order_id}/shipments",
        {"location": "WH1", "lines": [{"sku": "TSHIRT-BLK-M", "quantity": 2}]},
        format="json",
    )

    response = ops.post(
        f"/api/v1/orders/{order_id}/cancel", {"reason": "customer asked"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "shipped"
    mug = OrderLine.objects.get(sku="MUG-WHT")
    assert (mug.quantity_shipped, mug.quantity_cancelled) == (0, 1)
    event = DomainEvent.objects.get(name="order.cancelled")
    assert [(line["sku"], line["quantity"]) for line in event.payload["lines"]] == [("MUG-WHT", 1)]
    assert event.payload["reason"] == "customer asked"


def test_cancelling_a_fully_shipped_order_is_a_409(order_id, staff):
    ops = staff("operations")
    ops.post(
        f"/api/v1/orders/{order_id}/shipments",
        {
            "location": "WH1",
            "lines": [{"sku": "TSHIRT-BLK-M", "quantity": 2}, {"sku": "MUG-WHT", "quantity": 1}],
        },
        format="json",
    )

    response = ops.post(f"/api/v1/orders/{order_id}/cancel", {}, format="json")

    assert response.status_code == 409
    assert Order.objects.get().status == "shipped"
    assert not DomainEvent.objects.filter(name="order.cancelled").exists()


def test_a_whole_cancellation_then_a_shipment_is_a_409(order_id, staff):
    ops = staff("operations")
    assert (
        ops.post(f"/api/v1/orders/{order_id}/cancel", {}, format="json").json()["status"]
        == "cancelled"
    )
    again = ops.post(f"/api/v1/orders/{order_id}/cancel", {}, format="json")
    ship = ops.post(
        f"/api/v1/orders/{order_id}/shipments",
        {"location": "WH1", "lines": [{"sku": "MUG-WHT", "quantity": 1}]},
        format="json",
    )

    assert again.status_code == 200
    assert ship.status_code == 409
    assert DomainEvent.objects.filter(name="order.cancelled").count() == 1


def test_the_orders_own_channel_may_report_shipments_but_not_another_channel(
    order_id, channel, make_channel
):
    body = {"location": "WH1", "lines": [{"sku": "MUG-WHT", "quantity": 1}]}
    other = make_channel(code="other")

    own = channel.client.post(
        f"/api/v1/orders/{order_id}/shipments",
        body,
        format="json",
        HTTP_AUTHORIZATION=f"Token {channel.token}",
    )
    foreign = other.client.post(
        f"/api/v1/orders/{order_id}/shipments",
        body,
        format="json",
        HTTP_AUTHORIZATION=f"Token {other.token}",
    )

    assert (own.status_code, foreign.status_code) == (201, 403)


def test_a_channel_cancellation_in_an_update_payload_cancels_the_order(channel):
    channel.post_order(canonical_order(updated_at="2026-11-20T20:00:00Z"))

    response = channel.post_order(
        canonical_order(updated_at="2026-11-20T22:00:00Z", status="cancelled")
    )

    assert response.json()["status"] == "cancelled"
    assert (
        DomainEvent.objects.get(name="order.cancelled").payload["reason"]
        == "cancelled by the channel"
    )


def test_orders_filter_by_channel_status_and_placed_date(make_channel, staff):
    web, pos = make_channel(code="web"), make_channel(code="pos")
    web.post_order(canonical_order(external_id="W1", placed_at="2026-11-20T10:00:00Z"))
    web.post_order(canonical_order(external_id="W2", placed_at="2026-11-21T10:00:00Z"))
    pos.post_order(canonical_order(external_id="P1", placed_at="2026-11-21T11:00:00Z"))
    finance = staff("finance")

    def ids(query):
        return [o["external_id"] for o in finance.get(f"/api/v1/orders/?{query}").json()["results"]]

    assert ids("channel=web") == ["W2", "W1"]
    assert ids("placed_date=2026-11-21") == ["P1", "W2"]
    assert ids("channel=pos&status=accepted") == ["P1"]
    assert ids("status=shipped") == []
