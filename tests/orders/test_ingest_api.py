"""Order ingestion through the HTTP API: created, redelivered, updated, rejected, batched."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from orders.models import Order, OrderChange, TaxLine
from retailsync.core.models import DomainEvent, ExceptionItem, InboundMessage
from tests.orders.payloads import canonical_order

pytestmark = pytest.mark.django_db


def test_a_canonical_order_is_created_with_totals_to_the_cent(channel, staff):
    response = channel.post_order(canonical_order(), **{"X-Correlation-ID": "corr-web-1001"})

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "accepted"
    assert body["correlation_id"] == "corr-web-1001"
    assert response["X-Correlation-ID"] == "corr-web-1001"

    order = staff("finance").get(f"/api/v1/orders/{body['id']}").json()
    assert order["totals"] == {
        "subtotal": "64.00",
        "discount": "5.00",
        "shipping": "6.00",
        "fees": "0.00",
        "tax": "5.21",
        "total": "70.21",
    }
    # 2 × 24.50 − 5.00 + 3.53 = 47.53; 15.00 + 1.20 = 16.20
    assert [
        (
            line["sku"],
            line["quantity"],
            line["unit_price"],
            line["discount"],
            line["tax"],
            line["total"],
        )
        for line in order["lines"]
    ] == [
        ("TSHIRT-BLK-M", 2, "24.50", "5.00", "3.53", "47.53"),
        ("MUG-WHT", 1, "15.00", "0.00", "1.20", "16.20"),
    ]
    assert order["payments"][0]["reference"] == "ch_3PqWeb1001"
    assert order["customer_email"] == "j***@example.com"
    assert order["metadata"] == {"gift_message": "Happy birthday"}
    assert order["placed_at"] == "2026-11-20T19:03:00Z"
    assert order["correlation_id"] == "corr-web-1001"
    assert {t["target"] for t in order["tax_lines"]} == {"line", "shipping"}

    event = DomainEvent.objects.get(name="order.accepted")
    assert event.correlation_id == "corr-web-1001"
    assert [(line["sku"], line["quantity"]) for line in event.payload["lines"]] == [
        ("TSHIRT-BLK-M", 2),
        ("MUG-WHT", 1),
    ]


def test_a_redelivery_returns_the_same_order_and_changes_nothing(channel):
    first = channel.post_order(canonical_order(), **{"X-Message-Id": "evt-1"})
    again = channel.post_order(canonical_order(), **{"X-Message-Id": "evt-1"})

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["result"] == "duplicate"
    assert Order.objects.count() == 1
    assert DomainEvent.objects.filter(name="order.accepted").count() == 1
    # Both deliveries are kept; the second points at the first.
    original, redelivery = InboundMessage.objects.order_by("pk")
    assert redelivery.duplicate_of == original
    assert redelivery.status == InboundMessage.Status.DUPLICATE


def test_an_update_for_a_known_order_updates_it_and_records_what_changed(channel):
    created = channel.post_order(canonical_order(updated_at="2026-11-20T20:00:00Z"))
    # The customer added a second mug: +15.00 and +1.20 tax, total 70.21 + 16.20 = 86.41.
    update = canonical_order(updated_at="2026-11-20T21:00:00Z", total="86.41")
    update["lines"][1]["quantity"] = 2
    update["lines"][1]["tax"] = "2.40"

    response = channel.post_order(update)

    assert response.status_code == 200
    assert response.json() == {**response.json(), "id": created.json()["id"], "result": "updated"}
    order = Order.objects.get()
    assert (order.subtotal, order.tax, order.total) == (
        Decimal("79.00"),
        Decimal("6.41"),
        Decimal("86.41"),
    )
    change = OrderChange.objects.get(kind="update")
    assert change.changes["total"] == ["70.2100", "86.41"]
    assert change.changes["lines"]["L2"]["quantity"] == [1, 2]
    assert TaxLine.objects.filter(order=order).count() == 3
    assert DomainEvent.objects.filter(name="order.updated").count() == 1


def test_a_redelivered_webhook_id_does_not_undo_a_later_update(channel):
    channel.post_order(canonical_order(), **{"X-Message-Id": "evt-create"})
    update = canonical_order(total="86.41")
    update["lines"][1]["quantity"] = 2
    update["lines"][1]["tax"] = "2.40"
    assert (
        channel.post_order(update, **{"X-Message-Id": "evt-update"}).json()["result"] == "updated"
    )

    # The channel retries its first delivery: it carries no updated_at to compare.
    again = channel.post_order(canonical_order(), **{"X-Message-Id": "evt-create"})

    assert again.status_code == 200
    assert again.json()["result"] == "duplicate"
    assert Order.objects.get().total == Decimal("86.41")


def test_a_stale_retry_does_not_overwrite_a_newer_version(channel):
    channel.post_order(canonical_order(updated_at="2026-11-20T21:00:00Z"))
    stale = canonical_order(updated_at="2026-11-20T20:00:00Z", total="86.41")
    stale["lines"][1]["quantity"] = 2
    stale["lines"][1]["tax"] = "2.40"

    response = channel.post_order(stale)

    assert response.status_code == 200
    assert response.json()["result"] == "duplicate"
    assert Order.objects.get().total == Decimal("70.21")


def test_malformed_json_is_a_400_the_body_is_kept_and_an_exception_is_queued(channel):
    response = channel.post_order(b'{"external_id": "WEB-9", "lines": [')

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("body is not valid JSON")
    message = InboundMessage.objects.get()
    assert bytes(message.body) == b'{"external_id": "WEB-9", "lines": ['
    assert message.status == InboundMessage.Status.REJECTED
    exception = ExceptionItem.objects.get()
    assert (exception.kind, exception.status) == ("message_rejected", "open")
    assert exception.object_id == str(message.pk)


@pytest.mark.parametrize("depth", [201, 500])
def test_a_payload_nested_past_200_levels_is_a_kept_400_not_a_crash(channel, depth):
    # 500 levels parse, but overran the adapters' recursive readers (a 500 before).
    payload = canonical_order()
    payload["note_attributes"] = json.loads('{"a":' * (depth - 1) + "1" + "}" * (depth - 1))
    response = channel.post_order(payload)
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "JSON nested deeper than 200 levels"
    message = InboundMessage.objects.get()
    assert message.status == InboundMessage.Status.REJECTED and len(bytes(message.body)) > depth
    assert ExceptionItem.objects.get().kind == "message_rejected"


def test_a_payload_nested_200_levels_is_read(channel):
    payload = canonical_order()
    payload["note_attributes"] = json.loads('{"a":' * 199 + "1" + "}" * 199)
    assert channel.post_order(payload).status_code == 201


def test_an_order_missing_required_fields_is_a_400_listing_each(channel):
    payload = canonical_order()
    del payload["currency"]
    payload["lines"][0]["unit_price"] = "twelve"

    response = channel.post_order(payload)

    assert response.status_code == 400
    assert {(e["field"], e["message"]) for e in response.json()["errors"]} == {
        ("currency", "is required"),
        ("lines[0].unit_price", "'twelve' is not a decimal amount"),
    }
    assert ExceptionItem.objects.get().kind == "order_rejected"


def test_an_order_that_does_not_add_up_is_a_422_listing_every_problem(channel):
    payload = canonical_order(currency="XYZ", total="99.99")
    payload["lines"][0]["quantity"] = -1
    payload["lines"][1]["sku"] = ""

    response = channel.post_order(payload)

    assert response.status_code == 422
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields == ["currency", "lines[0].quantity", "lines[1].sku"]
    message = InboundMessage.objects.get()
    assert json.loads(bytes(message.body))["total"] == "99.99"
    exception = ExceptionItem.objects.get()
    assert exception.kind == "order_rejected"
    assert exception.object_label == "web order WEB-1001"
    assert len(exception.details["errors"]) == 3
    assert Order.objects.count() == 0


def test_amounts_too_large_to_store_are_a_422_naming_each_field_not_a_500(channel):
    """Amounts are numeric(19, 4) and quantities integers: a payment of 10^20, or a line that
    adds up (with its total) to 10^15, must be refused like any other rule, message kept."""
    payload = canonical_order()
    payload["payments"][0]["amount"] = "99999999999999999999"
    payload["lines"][1]["quantity"] = 10**12
    huge = canonical_order(external_id="WEB-1002", lines=[], total="1000000000000000.00")
    huge["lines"] = [
        {"sku": "TEE", "quantity": 1, "unit_price": "1000000000000000.00", "discount": "0"}
    ]
    huge["shipping"] = {"amount": "0", "discount": "0", "tax": "0"}
    huge["payments"] = []

    response = channel.post_order(payload)
    too_big = channel.post_order(huge)

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "lines[1].quantity", "message": "must be at most 2,147,483,647"},
        {
            "field": "payments[0].amount",
            "message": "must be less than 1,000,000,000,000,000 in size",
        },
    ]
    assert too_big.status_code == 422
    assert {e["field"] for e in too_big.json()["errors"]} == {"total", "lines[0].unit_price"}
    assert Order.objects.count() == 0
    assert InboundMessage.objects.count() == 2
    assert ExceptionItem.objects.filter(kind="order_rejected").count() == 2


def test_totals_off_by_more_than_one_minor_unit_are_refused_but_one_cent_is_tolerated(channel):
    assert channel.post_order(canonical_order(total="70.22")).status_code == 201
    response = channel.post_order(canonical_order(external_id="WEB-1002", total="70.23"))

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "total",
            "message": "lines, discounts, shipping, fees and tax add up to 70.21, but the order "
            "total is 70.23",
        }
    ]


def test_a_repeated_rejection_counts_on_one_open_exception_and_acceptance_resolves_it(channel):
    bad = canonical_order(total="1.00")
    channel.post_order(bad)
    channel.post_order(bad)
    exception = ExceptionItem.objects.get()
    assert exception.occurrences == 2

    assert channel.post_order(canonical_order()).status_code == 201

    exception.refresh_from_db()
    assert exception.status == "resolved"
    assert exception.resolution == "accepted on a later delivery or replay"


def test_the_batch_answers_one_result_per_payload_in_order(channel):
    orders = [
        canonical_order(external_id="B-1"),
        canonical_order(external_id="B-2", total="0.01"),
        canonical_order(external_id="B-1"),
        "not an order",
        canonical_order(external_id="B-3"),
    ]

    response = channel.post_batch(orders)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["index"], r["status"]) for r in results] == [
        (0, "created"),
        (1, "rejected"),
        (2, "duplicate"),
        (3, "rejected"),
        (4, "created"),
    ]
    assert results[2]["id"] == results[0]["id"]
    assert results[1]["errors"][0]["field"] == "total"
    assert results[3]["errors"] == [{"field": "", "message": "an order must be a JSON object"}]
    assert Order.objects.count() == 2
    assert ExceptionItem.objects.filter(kind="order_rejected").count() == 2


def test_a_batch_of_more_than_500_is_refused_whole(channel):
    response = channel.post_batch([canonical_order(external_id=f"X{i}") for i in range(501)])

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "orders", "message": "at most 500 orders per batch, not 501"}
    ]
    assert Order.objects.count() == 0
    assert InboundMessage.objects.get().status == InboundMessage.Status.REJECTED


def test_replay_runs_a_stored_message_again_through_the_same_pipeline(channel, capsys):
    channel.post_order(canonical_order(total="1.00"))
    message = InboundMessage.objects.get()
    # The channel's numbers were right after all: the stored bytes are replayed as sent, so
    # fix the body as an operator would by correcting the source and replaying a corrected copy.
    message.body = json.dumps(canonical_order()).encode()
    message.save()

    call_command("replay", str(message.pk))

    line = json.loads(capsys.readouterr().out.strip())
    assert line["message"] == message.pk
    assert line["status"] == "processed"
    order = Order.objects.get()
    assert order.total == Decimal("70.21")
    assert order.correlation_id == message.correlation_id
    message.refresh_from_db()
    assert message.attempts == 2
    assert ExceptionItem.objects.get().status == "resolved"


def test_replay_by_status_reprocesses_every_rejected_message(channel, capsys):
    channel.post_order(b"{broken")
    channel.post_order(canonical_order(total="2.00"))

    call_command("replay", "--status", "rejected")

    statuses = [json.loads(line)["status"] for line in capsys.readouterr().out.splitlines()]
    assert statuses == ["rejected", "rejected"]
    assert InboundMessage.objects.filter(attempts=2).count() == 2


def test_the_trace_shows_the_message_the_order_event_and_later_shipment(channel, staff):
    created = channel.post_order(canonical_order(), **{"X-Correlation-ID": "trace-me"})
    ops = staff("operations")

    response = ops.get("/api/v1/trace/trace-me")

    assert response.status_code == 200
    titles = [e["title"] for e in response.json()["entries"]]
    assert titles == ["order received from web", "order processed", "order.accepted"]
    assert ops.get("/api/v1/trace/nothing-here").status_code == 404
    assert created.json()["correlation_id"] == "trace-me"


def test_a_broken_pipeline_still_keeps_the_message_and_queues_an_exception(channel, monkeypatch):
    # Stand-in for a bug in our own code: the only way to show the safety net catches it.
    def broken(payload, headers):
        raise RuntimeError("adapter bug")

    monkeypatch.setattr("orders.adapters.canonical.parse", broken)

    response = channel.post_order(canonical_order())

    assert response.status_code == 500
    assert response.json() == {
        "errors": [{"field": "", "message": "internal error; it has been logged"}]
    }

    message = InboundMessage.objects.get()
    assert message.status == InboundMessage.Status.FAILED
    assert json.loads(bytes(message.body))["external_id"] == "WEB-1001"
    assert message.error == [{"field": "", "message": "RuntimeError('adapter bug')"}]
    exception = ExceptionItem.objects.get()
    assert exception.kind == "ingest_failed"
    assert Order.objects.count() == 0
