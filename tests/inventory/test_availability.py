"""Available-to-sell per channel: the rules that shape it, the feed's cursor, and pushes."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from inventory.availability import availability_refresh_all
from inventory.models import ChannelAvailability, WebhookDelivery
from inventory.services import allocation_set
from inventory.webhooks import webhook_deliver
from tests.inventory.conftest import event

pytestmark = pytest.mark.django_db


@pytest.fixture
def stocked(stock, staff, django_capture_on_commit_callbacks):
    """TEE: 20 at WH1 (2 damaged), 10 at WH2, 5 at STORE1. MUG: 3 at WH1."""
    ops = staff("operations")
    with django_capture_on_commit_callbacks(execute=True):
        ops.post(
            "/api/v1/inventory/events",
            [
                event("receipt", "TEE", "WH1", 20),
                event("damage", "TEE", "WH1", 2),
                event("receipt", "TEE", "WH2", 10),
                event("receipt", "TEE", "STORE1", 5),
                event("receipt", "MUG", "WH1", 3),
            ],
            format="json",
        )
    return ops


def feed(client, code: str, since: str = "") -> dict:
    query = f"?since={since}" if since else ""
    response = client.get(f"/api/v1/channels/{code}/availability{query}")
    assert response.status_code == 200, response.json()
    return response.json()


def figures(body: dict) -> dict[str, int]:
    return {i["sku"]: i["available"] for i in body["items"]}


def test_channel_rules_shape_the_figure_and_say_how(stocked, make_channel):
    web, amazon, store = (make_channel(code=c) for c in ("web", "amazon", "store"))
    allocation_set(
        channel=web.channel, locations=["WH1", "WH2"], safety_stock=3, item_safety_stock={"MUG": 0}
    )
    allocation_set(
        channel=amazon.channel, locations=["WH1", "WH2"], share_percent=Decimal(50), cap=10
    )
    allocation_set(channel=store.channel, locations=["STORE1"], safety_stock=10)

    availability_refresh_all()

    # web: TEE 18 + 10 − 3 = 25; MUG 3 − 0 (item rule) = 3
    # GIFTSET (1 TEE + 1 MUG): min(28, 3) = 3, less the channel's safety stock 3 = 0
    assert figures(feed(stocked, "web")) == {"TEE": 25, "MUG": 3, "CAP": 0, "GIFTSET": 0}
    # amazon: TEE 28 × 50% = 14, capped at 10; MUG 3 × 50% = 1.5 → 1
    assert figures(feed(stocked, "amazon"))["TEE"] == 10
    assert figures(feed(stocked, "amazon"))["MUG"] == 1
    # store: 5 − 10 is below zero: 0, never negative
    assert figures(feed(stocked, "store"))["TEE"] == 0
    rule = ChannelAvailability.objects.get(channel=amazon.channel, item__sku="TEE").rule
    assert rule == "pool 28 at WH1+WH2 × 50% cap 10 = 10"


def test_the_feed_returns_everything_first_then_only_what_changed(
    stocked, make_channel, django_capture_on_commit_callbacks
):
    web = make_channel(code="web")
    allocation_set(channel=web.channel, locations=["WH1"])
    availability_refresh_all()
    token = {"HTTP_AUTHORIZATION": f"Token {web.token}"}

    first = web.client.get("/api/v1/channels/web/availability", **token).json()
    assert figures(first) == {"TEE": 18, "MUG": 3, "CAP": 0, "GIFTSET": 3}
    nothing = web.client.get(
        f"/api/v1/channels/web/availability?since={first['cursor']}", **token
    ).json()
    assert nothing == {"cursor": first["cursor"], "items": []}

    with django_capture_on_commit_callbacks(execute=True):
        stocked.post("/api/v1/inventory/events", event("receipt", "MUG", "WH1", 4), format="json")

    later = web.client.get(
        f"/api/v1/channels/web/availability?since={first['cursor']}", **token
    ).json()
    # The bundle follows its scarcest component: min(18 tees, 7 mugs) = 7.
    assert figures(later) == {"MUG": 7, "GIFTSET": 7}
    assert int(later["cursor"]) > int(first["cursor"])


def test_a_change_that_does_not_alter_the_figure_is_not_in_the_feed(
    stocked, make_channel, django_capture_on_commit_callbacks
):
    web = make_channel(code="web")
    allocation_set(channel=web.channel, locations=["WH1"])
    availability_refresh_all()
    cursor = feed(stocked, "web")["cursor"]

    with django_capture_on_commit_callbacks(execute=True):
        stocked.post("/api/v1/inventory/events", event("receipt", "TEE", "WH2", 4), format="json")

    assert feed(stocked, "web", cursor)["items"] == []


def test_a_pool_change_that_keeps_the_figure_updates_the_row_but_not_the_feed(
    stocked, make_channel, django_capture_on_commit_callbacks
):
    web = make_channel(code="web")
    allocation_set(channel=web.channel, locations=["WH1"], cap=5)
    availability_refresh_all()
    cursor = feed(stocked, "web")["cursor"]

    with django_capture_on_commit_callbacks(execute=True):
        stocked.post("/api/v1/inventory/events", event("receipt", "TEE", "WH1", 4), format="json")

    assert feed(stocked, "web", cursor)["items"] == []
    row = ChannelAvailability.objects.get(channel=web.channel, item__sku="TEE")
    # 18 + 4 = 22 at WH1, still capped at 5
    assert (row.available, row.pool, row.rule) == (5, 22, "pool 22 at WH1 cap 5 = 5")


def test_a_channel_reads_only_its_own_feed(stocked, make_channel):
    web, other = make_channel(code="web"), make_channel(code="other")
    response = other.client.get(
        "/api/v1/channels/web/availability", HTTP_AUTHORIZATION=f"Token {other.token}"
    )
    assert response.status_code == 403
    bad = web.client.get(
        "/api/v1/channels/web/availability?since=abc", HTTP_AUTHORIZATION=f"Token {web.token}"
    )
    assert bad.status_code == 400


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []
    fail_first = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if _Receiver.fail_first > 0:
            _Receiver.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        _Receiver.received.append(body)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver():
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.received = []
    _Receiver.fail_first = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/stock"
    server.shutdown()
    server.server_close()


def test_changes_are_pushed_to_the_channels_webhook_and_retried_until_taken(
    stocked, make_channel, receiver
):
    web = make_channel(code="web")
    allocation_set(channel=web.channel, locations=["WH1"], webhook_url=receiver)
    _Receiver.fail_first = 1

    availability_refresh_all()  # on_commit is not run here: deliver by hand, as the task would

    delivery = WebhookDelivery.objects.get()
    with pytest.raises(Exception, match="503"):
        webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 1, 503)

    assert webhook_deliver(delivery_id=delivery.pk) == "delivered"
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_code) == (2, 204)
    [pushed] = _Receiver.received
    assert pushed["channel"] == "web"
    assert {i["sku"]: i["available"] for i in pushed["items"]} == {
        "TEE": 18,
        "MUG": 3,
        "CAP": 0,
        "GIFTSET": 3,
    }


def test_a_delivery_that_never_succeeds_ends_failed_in_the_log(stocked, make_channel):
    web = make_channel(code="web")
    allocation_set(channel=web.channel, locations=["WH1"], webhook_url="http://127.0.0.1:9/x")
    availability_refresh_all()
    delivery = WebhookDelivery.objects.get()

    assert webhook_deliver(delivery_id=delivery.pk, final_attempt=True) == "failed"
    delivery.refresh_from_db()
    assert delivery.last_error


@pytest.mark.django_db(transaction=True)
def test_a_refresh_racing_an_uncommitted_stock_change_leaves_its_mark_for_the_next(
    stock, make_channel
):
    """A refresh running while a stock change is still committing must not lose that change:
    it cannot see the change's mark yet, so the mark waits for the next refresh, which then
    publishes the new figure."""
    from datetime import UTC, datetime

    from django.db import connection, transaction

    from inventory.availability import availability_refresh
    from inventory.services import EventInput, stock_events_apply

    web = make_channel(code="web")
    allocation_set(channel=web.channel, locations=["WH1"])
    when = datetime(2026, 11, 20, tzinfo=UTC)
    stock_events_apply(events=[EventInput("r0", "wms", "receipt", "TEE", "WH1", 5, when)])
    availability_refresh_all()
    marked, release = threading.Event(), threading.Event()

    def writer() -> None:
        with transaction.atomic():
            stock_events_apply(events=[EventInput("r1", "wms", "receipt", "TEE", "WH1", 3, when)])
            marked.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    marked.wait(10)
    availability_refresh()  # sees neither the change nor its mark
    assert ChannelAvailability.objects.get(channel=web.channel, item__sku="TEE").available == 5
    release.set()
    thread.join(20)

    availability_refresh()  # the next one finds the mark and the committed stock

    assert ChannelAvailability.objects.get(channel=web.channel, item__sku="TEE").available == 8
