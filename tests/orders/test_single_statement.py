"""A new single order is written in one statement (orders/services/insert_one.py); what it
stores must be exactly what the general, one-statement-per-table path stores for the same
delivery: the order, every detail row and what it points at, the accepted event, the inbound
message and its status.

Each case posts the same payload to two channels of the same source: once as it runs, and once
with the one-statement path turned off, then compares everything stored, ids aside."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from orders.services import receive as services
from retailsync.core.models import DomainEvent, ExceptionItem, InboundMessage
from tests.conftest import fixture_bytes
from tests.orders.payloads import canonical_order
from tests.orders.test_sources_api import ACCEPTED

pytestmark = pytest.mark.django_db

_SKIPPED = {"id", "channel", "inbound_message", "correlation_id", "created_at", "updated_at"}


def _values(obj: Any, skip: set[str] = _SKIPPED) -> dict[str, Any]:
    return {
        f.name: getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if f.name not in skip and f.name not in {"order", "line", "shipping_line", "fee"}
    }


def snapshot(order_id: int, channel_code: str) -> dict[str, Any]:
    """Everything stored for one delivery, with ids turned into positions."""
    order = Order.objects.get(pk=order_id)
    lines = list(order.lines.order_by("pk"))
    ships = list(order.shipping_lines.order_by("pk"))
    fees = list(order.fee_lines.order_by("pk"))
    line_at = {line.pk: n for n, line in enumerate(lines)}
    ship_at = {s.pk: n for n, s in enumerate(ships)}
    fee_at = {f.pk: n for n, f in enumerate(fees)}

    def where(row: Any) -> tuple[Any, ...]:
        return (
            line_at.get(getattr(row, "line_id", None)),
            ship_at.get(getattr(row, "shipping_line_id", None)),
            fee_at.get(getattr(row, "fee_id", None)),
        )

    events = []
    for event in DomainEvent.objects.filter(aggregate_id=str(order_id)).order_by("pk"):
        text = json.dumps(event.payload).replace(channel_code, "CHANNEL")
        for pk, n in line_at.items():
            text = text.replace(f'"line_id": {pk}', f'"line_id": "line {n}"')
        payload = json.loads(text.replace(f'"order_id": {order_id}', '"order_id": "ORDER"'))
        events.append(
            (
                event.name,
                event.aggregate_type,
                payload,
                event.correlation_id == order.correlation_id,
                event.created_at >= order.created_at,
                event.dispatched_at is None,
            )
        )
    message = order.inbound_message
    assert message is not None
    return {
        "order": _values(order) | {"cancelled_at": order.cancelled_at == order.created_at},
        "lines in position order": [line.position for line in lines] == sorted(line_at.values()),
        "lines": [_values(line) for line in lines],
        "shipping": [_values(s) for s in ships],
        "fees": [_values(f) for f in fees],
        "taxes": [(where(t), _values(t)) for t in order.tax_lines.order_by("pk")],
        "discounts": [(where(d), _values(d)) for d in order.discount_allocations.order_by("pk")],
        "payments": [_values(p) for p in order.payments.order_by("pk")],
        "events": events,
        "message": _values(message, {"id", "channel", "correlation_id", "received_at"})
        | {
            "body": bytes(message.body),
            "result": json.loads(json.dumps(message.result).replace(str(order_id), '"ORDER"')),
            "processed_at": message.processed_at == order.created_at,
            "received_at": message.received_at <= message.processed_at,  # type: ignore[operator]
            "correlation_id": message.correlation_id == order.correlation_id,
        },
    }


def both_ways(make_channel, monkeypatch, source: str, body: bytes, **headers: str):
    one = make_channel(source, code=f"{source}-one")
    general = make_channel(source, code=f"{source}-general")
    with CaptureQueriesContext(connection) as queries:
        first = one.post_order(body, **headers)
    assert first.status_code == 201, first.json()
    # Besides authentication (the token's lookup, the credentials generation) and the test's
    # savepoint: the one statement.
    writes = [
        q["sql"].split(None, 1)[0]
        for q in queries
        if "core_apitoken" not in q["sql"] and "core_credentialsgeneration" not in q["sql"]
    ]
    assert writes == ["SAVEPOINT", "WITH", "RELEASE"]
    monkeypatch.setattr(services, "_order_receive_new", lambda **_: None)
    second = general.post_order(body, **headers)
    assert second.status_code == 201, second.json()
    assert first.json()["status"] == second.json()["status"]
    return (
        snapshot(first.json()["id"], one.channel.code),
        snapshot(second.json()["id"], general.channel.code),
    )


@pytest.mark.parametrize(("source", "fixture"), [(s, f) for s, f, _, _ in ACCEPTED])
def test_a_real_payload_is_stored_the_same_in_one_statement(
    make_channel, monkeypatch, source, fixture
):
    fast, general = both_ways(make_channel, monkeypatch, source, fixture_bytes(fixture))
    assert fast == general


def test_a_signed_webhook_with_its_delivery_id_is_stored_the_same(make_channel, monkeypatch):
    body = fixture_bytes("shopify/orders_create_split_tender.json")
    fast, general = both_ways(
        make_channel,
        monkeypatch,
        "shopify",
        body,
        **{"X-Shopify-Webhook-Id": "b54557e4-1", "X-Shopify-Topic": "orders/create"},
    )
    assert fast == general
    assert fast["message"]["message_id"] == "b54557e4-1"


def test_a_cancelled_order_with_metadata_is_stored_the_same(make_channel, monkeypatch):
    payload = canonical_order(
        status="cancelled",
        note={"amount": Decimal("1.50"), "at": "2026-11-20T14:03:00.123456-05:00"},
        placed_at="2026-11-20T14:03:00.654321+09:00",
    )
    body = json.dumps(payload, default=str).encode()
    fast, general = both_ways(make_channel, monkeypatch, "canonical", body)
    assert fast == general
    assert fast["order"]["status"] == Order.Status.CANCELLED
    assert fast["order"]["placed_at"].microsecond == 654321
    assert fast["events"] == []


def test_accepting_an_order_in_one_statement_resolves_its_earlier_rejection(channel):
    assert channel.post_order(canonical_order(total="1.00")).status_code == 422
    assert ExceptionItem.objects.get().status == ExceptionItem.Status.OPEN

    with CaptureQueriesContext(connection) as queries:
        accepted = channel.post_order(canonical_order())

    assert accepted.status_code == 201
    # Is the remembered token still good (the credentials generation)? Then the one statement.
    assert [q["sql"].split(None, 1)[0] for q in queries] == [
        "SELECT",
        "SAVEPOINT",
        "WITH",
        "RELEASE",
    ]
    assert "core_credentialsgeneration" in queries[0]["sql"]
    item = ExceptionItem.objects.get()
    assert (item.status, item.resolution) == ("resolved", "accepted on a later delivery or replay")
    assert item.resolved_at == Order.objects.get().created_at


def test_a_known_external_id_writes_nothing_in_one_statement_and_takes_the_general_path(
    channel,
):
    created = channel.post_order(canonical_order())
    again = channel.post_order(canonical_order())
    changed = channel.post_order(canonical_order(order_number="#1001-B"))

    assert (created.status_code, again.status_code, changed.status_code) == (201, 200, 200)
    assert created.json()["id"] == again.json()["id"] == changed.json()["id"]
    assert changed.json()["result"] == "updated"
    statuses = list(InboundMessage.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == ["processed", "duplicate", "processed"]
    assert DomainEvent.objects.filter(name="order.accepted").count() == 1
    assert Order.objects.get().order_number == "#1001-B"


def test_a_redelivered_message_id_takes_the_general_path_and_is_linked_to_the_first(channel):
    headers = {"X-Message-Id": "delivery-7"}
    first = channel.post_order(canonical_order(), **headers)
    second = channel.post_order(canonical_order(external_id="WEB-OTHER"), **headers)

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    one, two = InboundMessage.objects.order_by("pk")
    assert (one.duplicate_of_id, two.duplicate_of_id) == (None, one.pk)
    assert two.status == InboundMessage.Status.DUPLICATE
    assert Order.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_new_order_delivered_at_once_is_created_once(channel):
    """Every delivery races for the one statement; the losers find the order taken, write
    nothing there, and answer as redeliveries through the general path."""
    barrier = threading.Barrier(6)

    def deliver(_: int) -> tuple[int, int]:
        barrier.wait(5)
        try:
            response = channel.post_order(canonical_order())
        finally:
            connection.close()  # this thread's own connection
        return response.status_code, response.json()["id"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(deliver, range(6)))

    assert sorted(status for status, _ in answers) == [200] * 5 + [201]
    assert len({order_id for _, order_id in answers}) == 1
    assert Order.objects.count() == 1
    assert DomainEvent.objects.filter(name="order.accepted").count() == 1
    statuses = sorted(InboundMessage.objects.values_list("status", flat=True))
    assert statuses == ["duplicate"] * 5 + ["processed"]
