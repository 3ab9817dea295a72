"""What orders' events carry on the wire: the outbox JSON each publish site writes (built from
the typed contracts in `orders.events`), key for key and value for value, and the time each
is recorded at: the caller's `now`, on every path (issue 10)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from orders.models import Order, OrderLine, Shipment
from orders.services import LineRequest, order_cancel, order_receive, shipment_create
from retailsync.core.models import DomainEvent
from tests.conftest import ChannelClient
from tests.orders.payloads import canonical_order

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
# The canonical order's placed_at, 2026-11-20T14:03:00-05:00, in UTC as the outbox writes it.
PLACED = "2026-11-20T19:03:00Z"


def receive(channel: ChannelClient, payload: Any, kind: str = "order") -> int:
    _, [outcome] = order_receive(
        channel=channel.channel,
        kind=kind,
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        correlation_id="wire-1",
        now=NOW,
    )
    assert outcome.order_id is not None
    return outcome.order_id


def line_ids(order_id: int) -> dict[str, int]:
    return {
        line.sku: line.pk for line in OrderLine.objects.filter(order_id=order_id).order_by("pk")
    }


def events(order_id: int, name: str) -> list[DomainEvent]:
    return list(DomainEvent.objects.filter(aggregate_id=str(order_id), name=name).order_by("pk"))


def accepted(order_id: int, external_id: str) -> dict[str, Any]:
    ids = line_ids(order_id)
    return {
        "order_id": order_id,
        "channel": "web",
        "external_id": external_id,
        "currency": "USD",
        "total": "70.21",  # 2 × 24.50 − 5.00 + 15.00 + 6.00 shipping + 5.21 tax
        "fulfilment_location": "WH1",
        "channel_status": "",
        "payment_state": "paid",
        "placed_at": PLACED,
        "lines": [
            {"line_id": ids["TSHIRT-BLK-M"], "sku": "TSHIRT-BLK-M", "quantity": 2},
            {"line_id": ids["MUG-WHT"], "sku": "MUG-WHT", "quantity": 1},
        ],
    }


@pytest.mark.parametrize("kind", ["order", "order_batch"])
def test_an_acceptance_carries_the_order_in_its_skus_lane_at_the_callers_time(channel, kind):
    """A single order takes the one-statement path; a batch the set-based one."""
    body = canonical_order() if kind == "order" else {"orders": [canonical_order()]}
    order_id = receive(channel, body, kind)

    [event] = events(order_id, "order.accepted")
    assert event.payload == accepted(order_id, "WEB-1001")
    assert (event.aggregate_type, event.lane) == ("order", "MUG-WHT TSHIRT-BLK-M")
    assert (event.created_at, event.correlation_id) == (NOW, "wire-1")


def test_a_shipment_and_a_cancellation_carry_their_lines_at_the_callers_time(channel):
    order_id = receive(channel, canonical_order())
    ids = line_ids(order_id)

    shipment, _ = shipment_create(
        order_id=order_id,
        location="WH1",
        lines=[LineRequest(quantity=1, sku="MUG-WHT")],
        tracking="1Z999",
        now=NOW,
    )
    order_cancel(
        order_id=order_id,
        lines=[LineRequest(quantity=1, sku="TSHIRT-BLK-M")],
        reason="customer asked",
        now=NOW,
    )

    [shipped] = events(order_id, "order.shipped")
    assert shipped.payload == {
        "order_id": order_id,
        "shipment_id": Shipment.objects.get().pk,
        "location": "WH1",
        "shipped_at": "2026-01-02T03:04:05.678Z",  # to the millisecond, as JSON fields keep it
        "tracking": "1Z999",
        "lines": [{"line_id": ids["MUG-WHT"], "sku": "MUG-WHT", "quantity": 1}],
        "status": "partially_shipped",
    }
    assert shipment.shipped_at == NOW
    [cancelled] = events(order_id, "order.cancelled")
    assert cancelled.payload == {
        "order_id": order_id,
        "reason": "customer asked",
        "status": "partially_shipped",  # one tee of two is left open
        "lines": [{"line_id": ids["TSHIRT-BLK-M"], "sku": "TSHIRT-BLK-M", "quantity": 1}],
    }
    assert (shipped.lane, cancelled.lane) == ("", "")
    assert (shipped.created_at, cancelled.created_at) == (NOW, NOW)


def test_an_update_carries_its_changes_and_a_channel_cancellation_its_lines(channel):
    order_id = receive(channel, canonical_order(updated_at="2026-11-20T20:00:00Z"))
    shipment_create(
        order_id=order_id, location="WH1", lines=[LineRequest(quantity=1, sku="MUG-WHT")], now=NOW
    )
    # Shipping 6.00 → 7.00, so the total 70.21 → 71.21; the tee's line gets a new channel id.
    update = canonical_order(
        updated_at="2026-11-20T21:00:00Z",
        order_number="#1001-B",
        placed_at="2026-11-20T14:05:00-05:00",
        shipping={"amount": "7.00", "discount": "0.00", "tax": "0.48"},
        total="71.21",
    )
    update["lines"][0]["id"] = "L1X"
    receive(channel, update)
    receive(channel, canonical_order(updated_at="2026-11-20T22:00:00Z", status="cancelled"))

    first, second = events(order_id, "order.updated")
    assert first.payload == {
        "order_id": order_id,
        "changes": {
            "order_number": ["#1001", "#1001-B"],
            "placed_at": [PLACED, "2026-11-20T19:05:00Z"],
            # Before: the stored amount, at the column's four places; after: as sent.
            "shipping": ["6.0000", "7.00"],
            "total": ["70.2100", "71.21"],
            "lines": {"L1": "removed", "L1X": "added"},
        },
    }
    assert second.payload == {
        "order_id": order_id,
        "changes": {
            "channel_status": ["", "cancelled"],
            "order_number": ["#1001-B", "#1001"],
            "placed_at": ["2026-11-20T19:05:00Z", PLACED],
            "shipping": ["7.0000", "6.00"],
            "total": ["71.2100", "70.21"],
            "lines": {"L1": "added", "L1X": "removed"},
        },
    }
    [cancelled] = events(order_id, "order.cancelled")
    tee = OrderLine.objects.get(order_id=order_id, sku="TSHIRT-BLK-M")
    assert cancelled.payload == {
        "order_id": order_id,
        "reason": "cancelled by the channel",
        # The status the order had before this update: the wire has always said so.
        "status": "partially_shipped",
        "lines": [{"line_id": tee.pk, "sku": "TSHIRT-BLK-M", "quantity": 2}],
    }
    assert Order.objects.get(pk=order_id).status == "shipped"  # the mug shipped, the rest not
    assert {e.created_at for e in (first, second, cancelled)} == {NOW}
