"""Backorders filled across a real Celery worker: the orders' reservations go through the
outbox, the receipt asks for the coalesced fill after its commit, and the worker runs it."""

from __future__ import annotations

import pytest

from inventory.models import Reservation
from inventory.services import allocation_set
from retailsync.core.models import ExceptionItem
from tests.conftest import wait_for
from tests.inventory.conftest import event, position
from tests.inventory.test_backorders import order

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def status(order_id: int) -> str | None:
    row = ExceptionItem.objects.filter(kind="backorder", object_id=str(order_id)).first()
    return None if row is None else row.status


def test_a_receipt_fills_the_oldest_backorder_through_the_worker(stock, staff, channel, worker):
    allocation_set(channel=channel.channel, locations=["WH1"])
    newer = channel.post_order(order("N-1", "2026-11-05T10:00:00Z", [("TEE", 3)]))
    older = channel.post_order(order("O-1", "2026-11-01T10:00:00Z", [("TEE", 2)]))
    assert (newer.status_code, older.status_code) == (201, 201)
    newer_id, older_id = newer.json()["id"], older.json()["id"]
    wait_for(lambda: status(newer_id) == status(older_id) == "open")

    response = staff("operations").post(
        "/api/v1/inventory/events", [event("receipt", "TEE", "WH1", 2)], format="json"
    )
    assert response.status_code == 200, response.json()

    wait_for(lambda: status(older_id) == "resolved")
    held = Reservation.objects.filter(status="active")
    assert [(r.order_id, r.quantity) for r in held] == [(older_id, 2)]
    assert status(newer_id) == "open"
    assert position("TEE", "WH1")["reserved"] == 2
