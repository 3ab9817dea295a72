"""Who may call what: channel tokens, Shopify HMAC, staff tokens and roles."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from retailsync.core.models import InboundMessage
from tests.orders.payloads import canonical_order

pytestmark = pytest.mark.django_db


def test_a_channel_token_is_refused_on_another_channels_path(make_channel):
    web = make_channel(code="web")
    other = make_channel(code="store")

    response = web.client.post(
        f"/api/v1/channels/{other.channel.code}/orders",
        json.dumps(canonical_order()),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {web.token}",
    )

    assert response.status_code == 403
    assert response.json() == {
        "errors": [{"field": "", "message": "This token is not valid for this channel."}]
    }
    assert InboundMessage.objects.count() == 0


def test_no_token_or_an_unknown_token_is_a_401(channel):
    path = f"/api/v1/channels/{channel.channel.code}/orders"
    anonymous = channel.client.post(path, "{}", content_type="application/json")
    unknown = channel.client.post(
        path, "{}", content_type="application/json", HTTP_AUTHORIZATION="Token not-a-token"
    )

    assert (anonymous.status_code, unknown.status_code) == (401, 401)
    assert "X-Correlation-ID" in anonymous


def test_a_staff_token_cannot_post_orders_and_a_channel_token_cannot_read_them(channel, staff):
    ops = staff("operations")
    assert (
        ops.post(f"/api/v1/channels/{channel.channel.code}/orders", {}, format="json").status_code
        == 403
    )
    read = channel.client.get("/api/v1/orders/", HTTP_AUTHORIZATION=f"Token {channel.token}")
    assert read.status_code == 403


def _sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_a_shopify_webhook_signed_with_the_channel_secret_is_accepted(make_channel):
    shop = make_channel("shopify", code="shop", webhook_secret="shpss_test_secret")
    body = json.dumps(SHOPIFY_MINIMAL).encode()

    response = shop.client.post(
        "/api/v1/channels/shop/orders",
        body,
        content_type="application/json",
        HTTP_X_SHOPIFY_HMAC_SHA256=_sign(body, "shpss_test_secret"),
        HTTP_X_SHOPIFY_TOPIC="orders/create",
        HTTP_X_SHOPIFY_WEBHOOK_ID="wh-1",
    )

    assert response.status_code == 201, response.json()
    message = InboundMessage.objects.get()
    assert (message.message_id, message.topic) == ("wh-1", "orders/create")


def test_a_shopify_webhook_with_a_bad_signature_is_a_401_and_nothing_is_processed(make_channel):
    shop = make_channel("shopify", code="shop", webhook_secret="shpss_test_secret")
    body = json.dumps(SHOPIFY_MINIMAL).encode()
    tampered = body.replace(b'"10.00"', b'"1.00"')

    response = shop.client.post(
        "/api/v1/channels/shop/orders",
        tampered,
        content_type="application/json",
        HTTP_X_SHOPIFY_HMAC_SHA256=_sign(body, "shpss_test_secret"),
    )

    assert response.status_code == 401
    assert InboundMessage.objects.count() == 0


def test_a_signature_is_no_use_on_a_channel_that_is_not_shopify(make_channel):
    web = make_channel("canonical", code="web", webhook_secret="s3cret")
    body = json.dumps(canonical_order()).encode()

    response = web.client.post(
        "/api/v1/channels/web/orders",
        body,
        content_type="application/json",
        HTTP_X_SHOPIFY_HMAC_SHA256=_sign(body, "s3cret"),
    )

    assert response.status_code == 401


def test_roles_limit_what_staff_may_do(staff, channel):
    created = channel.post_order(canonical_order()).json()
    finance = staff("finance")
    ship = {"location": "WH1", "lines": [{"sku": "MUG-WHT", "quantity": 1}]}

    assert finance.get(f"/api/v1/orders/{created['id']}").status_code == 200
    assert (
        finance.post(f"/api/v1/orders/{created['id']}/shipments", ship, format="json").status_code
        == 403
    )
    assert (
        staff("operations")
        .post(f"/api/v1/orders/{created['id']}/shipments", ship, format="json")
        .status_code
        == 201
    )


# One line 10.00 + shipping 0, no tax: total 10.00.
SHOPIFY_MINIMAL = {
    "id": 5512345678901234567,
    "name": "#1201",
    "currency": "USD",
    "created_at": "2026-11-20T09:00:00-05:00",
    "updated_at": "2026-11-20T09:00:00-05:00",
    "taxes_included": False,
    "financial_status": "paid",
    "total_price": "10.00",
    "subtotal_price": "10.00",
    "total_tax": "0.00",
    "total_discounts": "0.00",
    "total_line_items_price": "10.00",
    "payment_gateway_names": ["shopify_payments"],
    "line_items": [
        {
            "id": 13370001,
            "sku": "SOCK-1",
            "quantity": 1,
            "price": "10.00",
            "tax_lines": [],
            "discount_allocations": [],
        }
    ],
    "shipping_lines": [],
    "tax_lines": [],
    "discount_applications": [],
    "refunds": [],
}
