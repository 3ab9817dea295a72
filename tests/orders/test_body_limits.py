"""Body sizes (issue 8): each endpoint's documented limit answers 413, never 500; a channel's
body over its limit is kept as far as it was read, flagged, with an exception for a person."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from orders.models import Order
from retailsync.core.models import AuditRecord, ExceptionItem, InboundMessage
from tests.orders.payloads import canonical_order

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def padded_batch(orders: int, order_bytes: int) -> bytes:
    """A batch of `orders` canonical orders of about `order_bytes` each (a long gift message)."""
    size = len(json.dumps(canonical_order(external_id="WEB-000000")))
    payloads = [
        canonical_order(external_id=f"WEB-{i:06d}", gift_message="x" * (order_bytes - size))
        for i in range(orders)
    ]
    return json.dumps({"orders": payloads}).encode()


def too_large(size: int, limit: int) -> dict[str, object]:
    return {
        "errors": [
            {"field": "", "message": f"body of {size} bytes is over the limit of {limit} bytes"}
        ]
    }


def test_a_batch_of_500_orders_of_6_5_kb_is_legal(channel):
    body = padded_batch(500, 6500)
    assert 3 * MB <= len(body) <= settings.RETAILSYNC_BATCH_BODY_MAX

    response = channel.post(f"/api/v1/channels/{channel.channel.code}/orders/batch", body)

    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 500
    assert {r["status"] for r in results} == {"created"}
    assert Order.objects.count() == 500


def test_a_batch_over_its_limit_is_a_413_kept_truncated_with_an_exception(channel):
    limit = settings.RETAILSYNC_BATCH_BODY_MAX
    body = padded_batch(1100, 8 * 1024)
    assert len(body) > limit

    response = channel.post(f"/api/v1/channels/{channel.channel.code}/orders/batch", body)

    assert response.status_code == 413
    assert response.json() == too_large(len(body), limit)
    message = InboundMessage.objects.get()
    assert (message.kind, message.status) == ("order_batch", "rejected")
    assert bytes(message.body) == body[:limit]
    assert message.result == {"truncated": True, "received_bytes": len(body), "kept_bytes": limit}
    exception = ExceptionItem.objects.get()
    assert (exception.kind, exception.object_id) == ("message_rejected", str(message.pk))
    assert exception.reason == (
        f"order_batch message refused: body of {len(body)} bytes is over the limit of {limit} bytes"
    )
    assert not Order.objects.exists()


def test_a_single_order_over_its_limit_is_a_413_kept_truncated(channel):
    limit = settings.RETAILSYNC_ORDER_BODY_MAX
    body = json.dumps(canonical_order(gift_message="x" * limit)).encode()

    response = channel.post_order(body)

    assert response.status_code == 413
    assert response.json() == too_large(len(body), limit)
    message = InboundMessage.objects.get()
    assert (message.kind, len(message.body), message.result["truncated"]) == ("order", limit, True)
    assert ExceptionItem.objects.get().kind == "message_rejected"


def test_a_single_order_at_its_limit_is_read(channel):
    unpadded = len(json.dumps(canonical_order(gift_message="")))
    order = canonical_order(gift_message="x" * (settings.RETAILSYNC_ORDER_BODY_MAX - unpadded))
    body = json.dumps(order).encode()
    assert len(body) == settings.RETAILSYNC_ORDER_BODY_MAX

    assert channel.post_order(body).status_code == 201


def test_a_signed_delivery_over_its_limit_is_a_413_and_nothing_is_kept(make_channel):
    shop = make_channel("shopify", code="shop", webhook_secret="s3cret")
    body = b'{"id": 1, "note": "' + b"x" * settings.RETAILSYNC_ORDER_BODY_MAX + b'"}'

    response = APIClient().post(
        "/api/v1/channels/shop/orders",
        body,
        content_type="application/json",
        HTTP_X_SHOPIFY_HMAC_SHA256="c2lnbmVk",
    )

    assert response.status_code == 413
    assert not shop.channel.messages.exists()


def test_a_body_over_djangos_own_ceiling_is_a_413_everywhere(channel):
    body = b'{"id": "' + b"x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + b'"}'

    response = channel.post(f"/api/v1/channels/{channel.channel.code}/refunds", body)

    assert response.status_code == 413
    assert response.json() == too_large(len(body), settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def test_a_staff_body_over_its_limit_is_a_413_and_recorded_as_refused(staff):
    limit = settings.RETAILSYNC_STAFF_BODY_MAX
    body = json.dumps([{"event_id": f"e{i}", "note": "x" * 1000} for i in range(1100)]).encode()

    response = staff("operations", username="olga").post(
        "/api/v1/inventory/events", body, content_type="application/json"
    )

    assert response.status_code == 413
    assert response.json() == too_large(len(body), limit)
    record = AuditRecord.objects.get()
    assert (record.actor_name, record.result) == ("olga", "refused")
    assert record.summary == {"body": f"({len(body)} bytes: over the limit, not read)"}


def test_a_back_office_form_over_the_limit_is_a_413(client, staff):
    user = staff("finance", username="fiona").user
    client.force_login(user)
    limit = settings.RETAILSYNC_STAFF_BODY_MAX

    response = client.post(
        "/exceptions/1/close",
        urlencode({"resolution": "x" * limit}),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 413
    record = AuditRecord.objects.get()
    assert (record.actor_name, record.result, record.status_code) == ("fiona", "refused", 413)
    assert record.outcome.startswith("refused (413): body of ")
