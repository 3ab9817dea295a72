"""Availability pushes go only to public https receivers, and every push is signed."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.utils import timezone

from inventory.availability import availability_refresh_all
from inventory.models import ChannelAllocation, Item, Location, WebhookDelivery
from inventory.services import EventInput, stock_events_apply
from inventory.webhooks import webhook_deliver
from retailsync.core.webhooks import (
    SIGNATURE_HEADER,
    webhook_signature_valid,
    webhook_url_problems,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def public_only(settings: Any) -> None:
    """Production's rule: nothing is exempt, DEBUG is off."""
    settings.WEBHOOK_ALLOWED_HOSTS = []
    settings.DEBUG = False


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:6379/", "must be an https URL"),
        ("https://127.0.0.1/x", "internal address"),
        ("https://localhost/x", "internal address"),
        ("https://10.1.2.3/x", "internal address"),
        ("https://192.168.0.10/x", "internal address"),
        ("https://169.254.169.254/latest/meta-data", "internal address"),
        ("https://[::1]/x", "internal address"),
        ("https://[::ffff:127.0.0.1]/x", "internal address"),
        ("https://0.0.0.0/x", "internal address"),
        ("https://user:pw@example.com/x", "credentials"),
        ("ftp://example.com/x", "must be an https URL"),
    ],
)
def test_internal_and_plain_http_webhook_urls_are_refused(
    public_only, staff, make_channel, url, why
):
    Location.objects.create(code="WH1", kind="warehouse")
    web = make_channel(code="web")

    answer = staff("operations").put(
        f"/api/v1/channels/{web.channel.code}/allocation",
        {"locations": ["WH1"], "webhook_url": url},
        format="json",
    )

    assert answer.status_code in (400, 422), answer.json()
    [error] = answer.json()["errors"]
    assert error["field"] == "webhook_url"
    if answer.status_code == 422:
        assert why in error["message"]
    assert not ChannelAllocation.objects.filter(channel=web.channel).exists()


def test_a_name_that_resolves_to_a_public_address_is_accepted(public_only, monkeypatch):
    # The outside world is stubbed at its edge: the resolver.
    def resolve(host: str, port: int, **kwargs: Any) -> list[Any]:
        assert host == "hooks.shop.example"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    assert webhook_url_problems("https://hooks.shop.example/stock") == []


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []
    answer = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(self.answer)
        if self.answer == 302:
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver(settings: Any) -> Iterator[str]:
    """A receiver on loopback, exempted the way an operator would exempt an internal one."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    _Receiver.received = []
    _Receiver.answer = 200
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/stock"
    server.shutdown()


def _stock(sku: str = "MUG", quantity: int = 7) -> None:
    Item.objects.get_or_create(sku=sku)
    stock_events_apply(
        events=[
            EventInput(
                event_id=f"r-{sku}-{quantity}",
                source="wms",
                type="receipt",
                sku=sku,
                location="WH1",
                quantity=quantity,
                occurred_at=timezone.now(),
            )
        ]
    )


def test_every_push_is_signed_with_the_secret_shown_once(
    receiver, staff, make_channel, django_capture_on_commit_callbacks
):
    Location.objects.create(code="WH1", kind="warehouse")
    web = make_channel(code="web")
    ops = staff("operations")
    path = f"/api/v1/channels/{web.channel.code}/allocation"

    first = ops.put(path, {"locations": ["WH1"], "webhook_url": receiver}, format="json").json()
    again = ops.put(path, {"locations": ["WH1"], "webhook_url": receiver}, format="json").json()
    secret = first["webhook_secret"]
    assert secret.startswith("whsec_")
    assert "webhook_secret" not in again  # never shown again

    _stock(quantity=7)
    availability_refresh_all()
    delivery = WebhookDelivery.objects.get(channel=web.channel)
    assert webhook_deliver(delivery_id=delivery.pk) == "delivered"

    [(headers, body)] = _Receiver.received
    assert json.loads(body)["items"] == [{"sku": "MUG", "available": 7}]
    signature = headers[SIGNATURE_HEADER]
    now = int(time.time())
    assert webhook_signature_valid(secret=secret, body=body, header=signature, now=now)
    assert not webhook_signature_valid(secret=secret, body=body + b" ", header=signature, now=now)
    assert not webhook_signature_valid(secret="whsec_other", body=body, header=signature, now=now)
    assert not webhook_signature_valid(secret=secret, body=body, header=signature, now=now + 3600)

    rotated = ops.put(
        path,
        {"locations": ["WH1"], "webhook_url": receiver, "rotate_webhook_secret": True},
        format="json",
    ).json()["webhook_secret"]
    assert rotated != secret


def test_a_push_given_a_time_is_signed_and_delivered_at_that_time(receiver, make_channel):
    from datetime import UTC, datetime

    from inventory.services import allocation_set

    then = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    Location.objects.create(code="WH1", kind="warehouse")
    web = make_channel(code="web")
    secret = allocation_set(
        channel=web.channel, locations=["WH1"], webhook_url=receiver
    ).webhook_secret
    _stock()
    availability_refresh_all()
    delivery = WebhookDelivery.objects.get(channel=web.channel)

    assert webhook_deliver(delivery_id=delivery.pk, now=then) == "delivered"

    [(headers, body)] = _Receiver.received
    signature = headers[SIGNATURE_HEADER]
    stamp = int(then.timestamp())
    assert signature.startswith(f"t={stamp},")
    assert webhook_signature_valid(secret=secret, body=body, header=signature, now=stamp)
    assert not webhook_signature_valid(secret=secret, body=body, header=signature, now=stamp + 301)
    delivery.refresh_from_db()
    assert delivery.delivered_at == then


def test_a_redirect_is_not_followed_and_the_delivery_is_retried(receiver, make_channel):
    from inventory.services import allocation_set
    from inventory.webhooks import DeliveryFailed

    Location.objects.create(code="WH1", kind="warehouse")
    web = make_channel(code="web")
    allocation_set(channel=web.channel, locations=["WH1"], webhook_url=receiver)
    _stock()
    availability_refresh_all()
    delivery = WebhookDelivery.objects.get(channel=web.channel)
    _Receiver.answer = 302

    with pytest.raises(DeliveryFailed):
        webhook_deliver(delivery_id=delivery.pk)

    assert len(_Receiver.received) == 1  # the redirect's target was never asked
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert delivery.response_code == 302


def test_a_saved_url_that_now_points_inside_is_not_delivered_to(receiver, make_channel, settings):
    from inventory.services import allocation_set

    Location.objects.create(code="WH1", kind="warehouse")
    web = make_channel(code="web")
    allocation_set(channel=web.channel, locations=["WH1"], webhook_url=receiver)
    _stock()
    availability_refresh_all()
    delivery = WebhookDelivery.objects.get(channel=web.channel)
    settings.WEBHOOK_ALLOWED_HOSTS = []  # the exemption was withdrawn since

    assert webhook_deliver(delivery_id=delivery.pk) == "failed"

    assert _Receiver.received == []
    delivery.refresh_from_db()
    assert "https" in delivery.last_error or "internal" in delivery.last_error
