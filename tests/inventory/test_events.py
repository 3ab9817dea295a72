"""Stock events through POST inventory/events: each type's effect, once per (source, id),
all or nothing, refusals instead of negative stock, and the out-of-order count rule."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from inventory.models import StockEvent, StockMovement
from retailsync.core.models import ExceptionItem
from tests.inventory.conftest import event, position

pytestmark = pytest.mark.django_db

START = [
    event("receipt", quantity=10),
    event("reservation", quantity=2),
    event("damage", quantity=1),
    event("quality_hold", quantity=1),
]
# 10 on hand, 2 reserved, 1 damaged, 1 held: 6 available.


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (event("receipt", quantity=5), {"on_hand": 15}),
        (event("adjustment", quantity=-3), {"on_hand": 7}),
        (event("adjustment", quantity=4), {"on_hand": 14}),
        (event("reservation", quantity=6), {"reserved": 8}),
        (event("release", quantity=2), {"reserved": 0}),
        (event("pick", quantity=2), {}),
        (event("shipment", quantity=3), {"on_hand": 7, "reserved": 0}),
        (event("return_receipt", quantity=1), {"on_hand": 11}),
        (event("damage", quantity=2), {"damaged": 3}),
        (event("quality_hold", quantity=6), {"quality_hold": 7}),
        (event("quality_release", quantity=1), {"quality_hold": 0}),
        (event("write_off", quantity=1), {"on_hand": 9, "damaged": 0}),
        (event("count", quantity=12, occurred_at="2026-11-21T10:00:00Z"), {"on_hand": 12}),
    ],
)
def test_each_event_type_changes_the_position_as_documented(stock, staff, sent, expected):
    ops = staff("operations")
    assert ops.post("/api/v1/inventory/events", START, format="json").json() == {
        "applied": 4,
        "duplicates": 0,
    }

    response = ops.post("/api/v1/inventory/events", sent, format="json")

    assert response.status_code == 200, response.json()
    assert response.json() == {"applied": 1, "duplicates": 0}
    before = {"on_hand": 10, "reserved": 2, "in_transit": 0, "damaged": 1, "quality_hold": 1}
    assert position("TEE", "WH1") == {**before, **expected}


def test_a_transfer_is_in_transit_until_it_arrives(stock, staff):
    ops = staff("operations")
    ops.post("/api/v1/inventory/events", event("receipt", quantity=10), format="json")

    ops.post(
        "/api/v1/inventory/events",
        event("transfer_out", quantity=4, to_location="STORE1"),
        format="json",
    )
    assert position("TEE", "WH1")["on_hand"] == 6
    assert position("TEE", "STORE1") == {**position("TEE", "STORE1"), "on_hand": 0, "in_transit": 4}

    ops.post(
        "/api/v1/inventory/events",
        event("transfer_in", location="STORE1", quantity=4),
        format="json",
    )
    assert position("TEE", "STORE1")["on_hand"] == 4
    assert position("TEE", "STORE1")["in_transit"] == 0
    positions = ops.get("/api/v1/inventory/positions?sku=TEE").json()["results"]
    assert [(p["location"], p["on_hand"], p["available"]) for p in positions] == [
        ("STORE1", 4, 4),
        ("WH1", 6, 6),
    ]


def test_a_redelivered_event_is_a_duplicate_and_changes_nothing(stock, staff):
    ops = staff("operations")
    receipt = event("receipt", quantity=5)

    first = ops.post("/api/v1/inventory/events", receipt, format="json").json()
    again = ops.post("/api/v1/inventory/events", [receipt, receipt], format="json").json()

    assert first == {"applied": 1, "duplicates": 0}
    assert again == {"applied": 0, "duplicates": 2}
    assert position("TEE", "WH1")["on_hand"] == 5
    assert StockMovement.objects.filter(reason="receipt").count() == 1


def test_a_batch_is_all_or_nothing_and_names_every_invalid_event(stock, staff):
    ops = staff("operations")
    batch = [
        event("receipt", quantity=5),
        event("receipt", sku="NOPE"),
        event("teleport"),
        event("receipt", location="MOON", quantity=0),
    ]

    response = ops.post("/api/v1/inventory/events", batch, format="json")

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "events[1].sku", "message": "unknown SKU 'NOPE'"},
        {"field": "events[2].type", "message": "unknown event type 'teleport'"},
        {"field": "events[3].location", "message": "unknown location 'MOON'"},
        {"field": "events[3].quantity", "message": "must be positive"},
    ]
    assert position("TEE", "WH1")["on_hand"] == 0
    assert StockEvent.objects.count() == 0


def test_malformed_events_are_a_400_naming_each_field(stock, staff):
    response = staff("operations").post(
        "/api/v1/inventory/events",
        [
            {
                "event_id": "x",
                "source": "wms",
                "type": "receipt",
                "sku": "TEE",
                "location": "WH1",
                "quantity": "many",
                "occurred_at": "yesterday",
            },
            "nope",
        ],
        format="json",
    )

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [
        "events[0].quantity",
        "events[0].occurred_at",
        "events[1]",
    ]


def test_an_event_that_would_go_negative_is_refused_with_an_exception_not_clamped(stock, staff):
    ops = staff("operations")
    ops.post("/api/v1/inventory/events", event("receipt", quantity=3), format="json")
    batch = [event("receipt", quantity=1), event("shipment", quantity=5)]

    response = ops.post("/api/v1/inventory/events", batch, format="json")

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "events[1].quantity",
            "message": "shipment of 5 TEE at WH1: only 4 available to ship unreserved, not 5",
        }
    ]
    assert position("TEE", "WH1")["on_hand"] == 3
    exception = ExceptionItem.objects.get()
    assert exception.kind == "stock_event_refused"
    assert exception.details["events"][1]["quantity"] == 5

    # The WMS retries the same batch: the same problem, counted on the one exception.
    assert ops.post("/api/v1/inventory/events", batch, format="json").status_code == 422
    exception = ExceptionItem.objects.get()
    assert exception.occurrences == 2


def test_a_count_older_than_changes_already_applied_keeps_them(stock, staff):
    """The rule: a count is a snapshot as of its occurred_at. On-hand becomes the counted units
    plus every change applied that happened after that moment; a count older than the last
    count applied changes nothing."""
    ops = staff("operations")
    ops.post(
        "/api/v1/inventory/events",
        [
            event("receipt", quantity=10, occurred_at="2026-11-20T08:00:00Z"),
            event("receipt", quantity=5, occurred_at="2026-11-20T12:00:00Z"),
        ],
        format="json",
    )

    # Counted 8 at 10:00, before the 12:00 receipt: 8 + 5 = 13.
    ops.post(
        "/api/v1/inventory/events",
        event("count", quantity=8, occurred_at="2026-11-20T10:00:00Z"),
        format="json",
    )
    assert position("TEE", "WH1")["on_hand"] == 13

    # A count from 09:00 arrives late: older than the 10:00 count, it changes nothing.
    ops.post(
        "/api/v1/inventory/events",
        event("count", quantity=2, occurred_at="2026-11-20T09:00:00Z"),
        format="json",
    )
    assert position("TEE", "WH1")["on_hand"] == 13
    assert StockMovement.objects.filter(reason="count_superseded").count() == 1


def test_stock_of_a_bundle_is_refused_it_has_none_of_its_own(stock, staff):
    response = staff("operations").post(
        "/api/v1/inventory/events", event("receipt", sku="GIFTSET"), format="json"
    )
    assert response.status_code == 422


def test_finance_cannot_post_stock_events(stock, staff):
    assert (
        staff("finance")
        .post("/api/v1/inventory/events", event("receipt"), format="json")
        .status_code
        == 403
    )


def test_a_large_batch_is_queued_and_gives_the_same_result(
    stock, staff, django_capture_on_commit_callbacks
):
    ops = staff("operations")
    batch = [event("receipt", quantity=1) for _ in range(501)]

    with django_capture_on_commit_callbacks(execute=True):
        response = ops.post("/api/v1/inventory/events", batch, format="json")

    assert response.status_code == 202
    job = ops.get(f"/api/v1/inventory/events/jobs/{response.json()['job']}").json()
    assert (job["status"], job["applied"], job["duplicates"]) == ("done", 501, 0)
    assert position("TEE", "WH1")["on_hand"] == 501


@pytest.mark.django_db(transaction=True)
def test_racing_redeliveries_of_one_event_apply_it_once(stock):
    from datetime import UTC, datetime

    from django.db import close_old_connections

    from inventory.services import EventInput, stock_events_apply
    from retailsync.core.errors import DomainError

    receipt = EventInput(
        event_id="race-1",
        source="wms",
        type="receipt",
        sku="TEE",
        location="WH1",
        quantity=7,
        occurred_at=datetime(2026, 11, 20, tzinfo=UTC),
    )
    results: list[tuple[int, int]] = []
    barrier = threading.Barrier(8)

    def deliver() -> None:
        try:
            barrier.wait()
            r = stock_events_apply(events=[receipt])
            results.append((r.applied, r.duplicates))
        except DomainError:
            results.append((-1, -1))
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results) == [(0, 1)] * 7 + [(1, 0)]
    assert position("TEE", "WH1")["on_hand"] == 7
