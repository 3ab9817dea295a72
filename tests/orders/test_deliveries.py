"""What is one channel's knowledge lives in its adapter: which headers identify a delivery (the
core stores messages and names no channel), whether a body is only a ping, and which of its
statuses mean an order is not paid yet (inventory reads the canonical payment state)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orders.adapters import SOURCES, adapter_for, deliveries_for
from orders.models import Order
from orders.services import parse_json
from retailsync.core.models import DomainEvent, InboundMessage
from tests.conftest import fixture_bytes
from tests.orders.payloads import canonical_order

pytestmark = pytest.mark.django_db

WOO_ORDER = "woocommerce/order_727_documented.json"
SHOPIFY_ORDER = "shopify/orders_create_split_tender.json"


def post_form(channel: Any, body: bytes) -> Any:
    return channel.client.post(
        f"/api/v1/channels/{channel.channel.code}/orders",
        body,
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Token {channel.token}",
    )


def test_a_woocommerce_ping_is_answered_and_nothing_is_kept(make_channel):
    woo = make_channel("woocommerce", code="woo")

    response = post_form(woo, b"webhook_id=12")

    assert (response.status_code, response.json()) == (200, {"status": "ping received"})
    assert not InboundMessage.objects.exists()
    assert not Order.objects.exists()


def test_a_ping_needs_the_channels_token(make_channel):
    woo = make_channel("woocommerce", code="woo")
    woo.token = "wrong"

    assert post_form(woo, b"webhook_id=12").status_code == 401


def test_a_channel_that_does_not_ping_gets_the_body_treated_as_a_delivery(channel):
    response = post_form(channel, b"webhook_id=12")

    assert response.status_code == 400
    assert InboundMessage.objects.get().status == InboundMessage.Status.REJECTED


def test_a_woocommerce_delivery_is_identified_by_its_own_headers(make_channel):
    woo = make_channel("woocommerce", code="woo")
    headers = {
        "X-WC-Webhook-Delivery-ID": "d-41",
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-Message-Id": "generic-1",
        "X-Not-Kept": "x",
    }

    body = fixture_bytes("woocommerce/order_1043_coupon_fee_two_rates_inclusive.json")
    first = woo.post_order(body, **headers)
    again = woo.post_order(body, **headers)

    assert (first.status_code, again.status_code) == (201, 200)
    one, two = InboundMessage.objects.order_by("pk")
    # The source's own delivery id is preferred to the generic one; a redelivery is linked.
    assert (one.message_id, one.topic) == ("d-41", "order.created")
    assert (two.duplicate_of_id, two.status) == (one.pk, InboundMessage.Status.DUPLICATE)
    assert {k: v for k, v in one.headers.items() if k.startswith("X-")} == {
        "X-WC-Webhook-Delivery-ID": "d-41",
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-Message-Id": "generic-1",
    }


def test_a_shopify_delivery_id_and_topic_are_read_from_shopifys_headers(make_channel):
    shop = make_channel("shopify", code="shop")

    response = shop.post_order(
        fixture_bytes(SHOPIFY_ORDER),
        **{"X-Shopify-Event-Id": "ev-9", "X-Shopify-Topic": "orders/create"},
    )

    assert response.status_code == 201
    message = InboundMessage.objects.get()
    assert (message.message_id, message.topic) == ("ev-9", "orders/create")


def test_any_channel_may_name_its_delivery_with_the_generic_headers(channel):
    assert channel.post_order(canonical_order(), **{"Idempotency-Key": "k-1"}).status_code == 201

    assert InboundMessage.objects.get().message_id == "k-1"


def test_every_source_declares_its_deliveries():
    declared = {source: deliveries_for(source) for source in SOURCES}

    assert declared["shopify"].message_id_headers == ("X-Shopify-Webhook-Id", "X-Shopify-Event-Id")
    assert declared["woocommerce"].is_ping("application/x-www-form-urlencoded", b"webhook_id=3")
    assert not declared["woocommerce"].is_ping("application/json", b"webhook_id=3")
    assert not declared["canonical"].is_ping("application/x-www-form-urlencoded", b"webhook_id=3")


def read(path: str) -> Any:
    """A fixture as the pipeline reads it: amounts as Decimal."""
    return parse_json(fixture_bytes(path))


def encoded(payload: Any) -> bytes:
    return json.dumps(payload, default=str).encode()


def with_changes(path: str, **changes: Any) -> Any:
    payload = read(path)
    payload.update(changes)
    return payload


@pytest.mark.parametrize(
    ("source", "payload", "state"),
    [
        ("shopify", with_changes(SHOPIFY_ORDER), "paid"),
        ("shopify", with_changes(SHOPIFY_ORDER, financial_status="pending"), "unpaid"),
        ("shopify", with_changes(SHOPIFY_ORDER, financial_status="authorized"), "unpaid"),
        ("shopify", with_changes(SHOPIFY_ORDER, financial_status="partially_paid"), "paid"),
        ("woocommerce", with_changes(WOO_ORDER), "paid"),
        ("woocommerce", with_changes(WOO_ORDER, status="pending"), "unpaid"),
        ("woocommerce", with_changes(WOO_ORDER, status="on-hold"), "unpaid"),
        ("amazon", read("amazon/us_pending_without_total.json"), "unpaid"),
        ("amazon", read("amazon/us_mfn_two_items_promotion.json"), "paid"),
        ("magento", read("magento/order_3_documented.json"), "unpaid"),
        (
            "magento",
            with_changes("magento/order_3_documented.json", status="pending_payment"),
            "unpaid",
        ),
        ("magento", read("magento/order_42_bundle_discount_shipping_tax.json"), "paid"),
        ("pos", read("square/retrieve_order_spec_example.json"), "paid"),
        ("canonical", canonical_order(), "paid"),
        ("canonical", canonical_order(status="pending"), "unpaid"),
        ("canonical", canonical_order(status="on-hold"), "unpaid"),
    ],
)
def test_each_adapter_reads_its_own_statuses_as_a_canonical_payment_state(source, payload, state):
    assert adapter_for(source)(payload, {}).payment_state == state


def test_the_payment_state_is_stored_told_to_inventory_and_follows_the_channel(make_channel):
    shop = make_channel("shopify", code="shop")
    pending = with_changes(SHOPIFY_ORDER, financial_status="pending")

    created = shop.post_order(encoded(pending))

    assert created.status_code == 201
    order = Order.objects.get()
    assert (order.channel_status, order.payment_state) == ("pending", "unpaid")
    accepted = DomainEvent.objects.get(name="order.accepted").payload
    assert (accepted["channel_status"], accepted["payment_state"]) == ("pending", "unpaid")

    paid = with_changes(SHOPIFY_ORDER, financial_status="paid", updated_at="2030-01-01T00:00:00Z")
    assert shop.post_order(encoded(paid)).json()["result"] == "updated"

    order.refresh_from_db()
    assert (order.channel_status, order.payment_state) == ("paid", "paid")
