"""Availability across a real Celery worker: stock changes committed one after another, and an
order's reservation dispatched through the outbox, all reach the channel's figure, whichever
waiting refresh picks them up."""

from __future__ import annotations

import pytest

from inventory.models import ChannelAvailability
from inventory.services import allocation_set
from tests.conftest import wait_for
from tests.inventory.conftest import event
from tests.orders.payloads import canonical_order

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def figure(channel_code: str, sku: str) -> int | None:
    row = ChannelAvailability.objects.filter(channel__code=channel_code, item__sku=sku).first()
    return None if row is None else row.available


def test_every_committed_change_reaches_the_figure_through_the_worker(
    stock, staff, channel, worker
):
    allocation_set(channel=channel.channel, locations=["WH1"])
    ops = staff("operations")
    for _ in range(12):
        response = ops.post("/api/v1/inventory/events", [event("receipt", "TEE")], format="json")
        assert response.status_code == 200, response.json()

    wait_for(lambda: figure("web", "TEE") == 12)

    order = canonical_order()  # reserves at WH1
    for line in order["lines"]:
        line["sku"] = "TEE"  # 2 + 1 units
    assert channel.post_order(order).status_code == 201
    wait_for(lambda: figure("web", "TEE") == 9)
