"""An `order.accepted` handled again after the order moved on (retried, or replayed by a
person): it reserves only what is still open, so no reservation is left that nothing releases."""

from __future__ import annotations

import pytest

from inventory.models import Reservation
from inventory.subscribers import reserve_accepted_order
from retailsync.core.models import DomainEvent, EventReceipt
from retailsync.core.replay import events_replay
from tests.inventory.conftest import position
from tests.inventory.test_reservations import accept, order, reserving, shop

__all__ = ["reserving", "shop"]  # the fixtures, both ways of reserving

pytestmark = pytest.mark.django_db

KEY = f"{reserve_accepted_order.__module__}.{reserve_accepted_order.__qualname__}"


def _accepted_again(order_id: int) -> None:
    """The reservation subscriber handles the order's acceptance once more."""
    accepted = DomainEvent.objects.get(name="order.accepted", aggregate_id=str(order_id))
    EventReceipt.objects.filter(event=accepted, subscriber=KEY).delete()
    [result] = events_replay(event_ids=[accepted.pk])
    assert result.status == "dispatched"
    assert EventReceipt.objects.filter(event=accepted, subscriber=KEY).count() == 1


def _ship(shop, order_id: int, lines: list[dict]) -> None:
    with shop.capture(execute=True):
        response = shop.ops.post(
            f"/api/v1/orders/{order_id}/shipments",
            {"location": "WH1", "lines": lines},
            format="json",
        )
    assert response.status_code == 201, response.json()


def _active(order_id: int) -> list[tuple[str, int]]:
    held = Reservation.objects.filter(order_id=order_id, status="active")
    return sorted((r.item.sku, r.quantity) for r in held)


def test_an_acceptance_after_the_shipment_reserves_nothing(shop):
    order_id = accept(shop, order("L1", [("TEE", 2), ("MUG", 1)]))
    _ship(shop, order_id, [{"sku": "TEE", "quantity": 2}, {"sku": "MUG", "quantity": 1}])

    _accepted_again(order_id)

    assert _active(order_id) == []
    assert position("TEE", "WH1")["reserved"] == 0
    assert position("MUG", "WH1")["reserved"] == 0


def test_an_acceptance_after_the_cancellation_reserves_nothing(shop):
    order_id = accept(shop, order("L2", [("TEE", 2)]))
    with shop.capture(execute=True):
        assert shop.ops.post(f"/api/v1/orders/{order_id}/cancel", {}, format="json").status_code
    assert _active(order_id) == []

    _accepted_again(order_id)

    assert _active(order_id) == []
    assert position("TEE", "WH1")["reserved"] == 0


def test_an_acceptance_after_a_partial_shipment_keeps_the_one_reservation_of_the_rest(shop):
    order_id = accept(shop, order("L3", [("TEE", 2), ("MUG", 3)]))
    _ship(shop, order_id, [{"sku": "TEE", "quantity": 2}, {"sku": "MUG", "quantity": 1}])
    assert _active(order_id) == [("MUG", 2)]

    _accepted_again(order_id)

    assert _active(order_id) == [("MUG", 2)]  # not reserved twice
    assert position("TEE", "WH1")["reserved"] == 0
    assert position("MUG", "WH1")["reserved"] == 2
