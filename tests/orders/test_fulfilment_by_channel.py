"""Shipments and cancellations a channel's own systems send with its token (issue 8): kept as
inbound messages like every delivery, and audited with the channel as the actor."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from orders.models import OrderLine
from retailsync.core.models import AuditRecord, ExceptionItem, InboundMessage
from tests.orders.payloads import canonical_order

pytestmark = pytest.mark.django_db

SHIPMENT = {"location": "WH1", "lines": [{"sku": "MUG-WHT", "quantity": 1}], "id": "SHP-1"}


@pytest.fixture
def order_id(channel):
    return channel.post_order(canonical_order()).json()["id"]


def test_a_shipment_sent_with_the_channels_token_is_kept_and_audited(channel, order_id):
    body = json.dumps(SHIPMENT).encode()

    response = channel.post(f"/api/v1/orders/{order_id}/shipments", body)

    assert response.status_code == 201
    message = InboundMessage.objects.get(kind="shipment")
    assert (bytes(message.body), message.status) == (body, "processed")
    assert message.correlation_id == response["X-Correlation-ID"]
    record = AuditRecord.objects.get()
    assert (record.actor, record.channel, record.actor_name) == (
        None,
        channel.channel,
        "channel web",
    )
    assert (record.action, record.result, record.outcome) == (
        f"order-shipment-create (pk={order_id})",
        "done",
        "201 Created",
    )
    assert record.summary == {"body": SHIPMENT}


def test_a_refused_shipment_is_kept_rejected_with_an_exception_and_audited_as_refused(
    channel, order_id
):
    too_many = {**SHIPMENT, "lines": [{"sku": "MUG-WHT", "quantity": 3}]}

    response = channel.post(f"/api/v1/orders/{order_id}/shipments", too_many)

    assert response.status_code == 422
    assert OrderLine.objects.get(sku="MUG-WHT").quantity_shipped == 0
    message = InboundMessage.objects.get(kind="shipment")
    assert message.status == "rejected"
    assert message.error == response.json()["errors"]
    exception = ExceptionItem.objects.get(object_id=str(message.pk))
    assert exception.kind == "message_rejected"
    assert exception.reason.startswith("shipment from web refused: ")
    record = AuditRecord.objects.get()
    assert (record.actor_name, record.result) == ("channel web", "refused")
    assert record.outcome.startswith("refused (422): ")


def test_a_cancellation_sent_with_the_channels_token_is_kept_and_audited(channel, order_id):
    response = channel.post(f"/api/v1/orders/{order_id}/cancel", {"reason": "customer asked"})

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    message = InboundMessage.objects.get(kind="cancel")
    assert (message.status, json.loads(bytes(message.body))) == (
        "processed",
        {"reason": "customer asked"},
    )
    record = AuditRecord.objects.get()
    assert (record.channel, record.action) == (channel.channel, f"order-cancel (pk={order_id})")


def test_a_shipment_by_a_person_is_audited_as_theirs_and_is_no_inbound_message(staff, order_id):
    staff("operations", username="olga").post(
        f"/api/v1/orders/{order_id}/shipments", SHIPMENT, format="json"
    )

    assert not InboundMessage.objects.filter(kind="shipment").exists()
    record = AuditRecord.objects.get()
    assert (record.actor_name, record.channel) == ("olga", None)


def test_a_channels_shipment_over_the_limit_is_a_413_kept_truncated(channel, order_id):
    limit = settings.RETAILSYNC_STAFF_BODY_MAX
    body = json.dumps({**SHIPMENT, "tracking": "x" * limit}).encode()

    response = channel.post(f"/api/v1/orders/{order_id}/shipments", body)

    assert response.status_code == 413
    message = InboundMessage.objects.get(kind="shipment")
    assert (message.status, len(message.body), message.result["truncated"]) == (
        "rejected",
        limit,
        True,
    )
    assert ExceptionItem.objects.get(object_id=str(message.pk)).kind == "message_rejected"
    assert AuditRecord.objects.get().result == "refused"
