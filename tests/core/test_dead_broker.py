"""With the broker unreachable, writes answer at once and stay committed; what they would have
published, the sweeps publish once the broker is back (issue 8).

The broker here is a real closed port: connecting is refused, as when Redis is down."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker

from inventory.availability import availability_refresh_all
from inventory.models import ChannelAllocation, EventBatch, Position, WebhookDelivery
from inventory.services import allocation_set, item_upsert, location_upsert
from orders.models import Order
from retailsync.celery import app as celery_app
from retailsync.core.coalesce import requests_forget
from retailsync.core.models import DomainEvent
from tests.conftest import wait_for
from tests.inventory.conftest import event
from tests.orders.payloads import canonical_order

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

# Well under the 0.6 s (and up to 6 s) a publish took retrying a refused connection.
QUICK = 0.3


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _publish_to(url: str | None) -> None:
    # What publishes (the write URL; CELERY_BROKER_URL in the environment wins over broker_url).
    celery_app.conf.broker_write_url = url
    celery_app._pool = None  # the connection pools are built from the URL on first use
    celery_app.amqp._producer_pool = None


@contextlib.contextmanager
def broker_down(settings: Any) -> Iterator[None]:
    live = settings.CELERY_BROKER_URL
    dead = f"redis://127.0.0.1:{closed_port()}/0"
    requests_forget(celery_app)
    settings.CELERY_BROKER_URL = dead  # the coalescing flags live in the broker's Redis too
    _publish_to(dead)
    celery_app.conf.task_always_eager = False
    try:
        yield
    finally:
        settings.CELERY_BROKER_URL = live
        _publish_to(None)
        requests_forget(celery_app)


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.fixture
def shop(make_channel, staff):  # type: ignore[no-untyped-def]
    location_upsert(code="WH1", kind="warehouse")
    for sku in ("TSHIRT-BLK-M", "MUG-WHT", "TEE"):
        item_upsert(sku=sku)
    web = make_channel(code="web")
    web.ops = staff("operations")
    # The first request of each kind in a process pays its imports: not what is measured here.
    writes(web, "warm-up")
    return web


def writes(shop: Any, key: str) -> dict[str, tuple[int, float]]:
    """A stock event, an allocation change and an order: (status, seconds) of each."""
    ops = shop.ops
    answers = {
        "stock event": timed(
            lambda: ops.post(
                "/api/v1/inventory/events",
                event("receipt", quantity=9, event_id=f"{key}-receipt"),
                format="json",
            )
        ),
        "allocation": timed(
            lambda: ops.put(
                "/api/v1/channels/web/allocation", {"locations": ["WH1"]}, format="json"
            )
        ),
        "order": timed(lambda: shop.post_order(canonical_order(external_id=f"{key}-order"))),
    }
    return {name: (response.status_code, seconds) for name, (response, seconds) in answers.items()}


def test_with_the_broker_down_writes_answer_at_once_and_stay_committed(shop, settings):
    with broker_down(settings):
        writes(shop, "first")  # a process's first publish loads the broker transport's code
        answers = writes(shop, "dead")

    assert {name: status for name, (status, _) in answers.items()} == {
        "stock event": 200,
        "allocation": 200,
        "order": 201,
    }
    assert all(seconds < QUICK for _, seconds in answers.values()), answers
    assert Position.objects.get(item__sku="TEE").on_hand == 9 + 9 + 9
    assert ChannelAllocation.objects.get().channel == shop.channel
    assert Order.objects.filter(external_id="dead-order").exists()


def test_a_large_stock_event_batch_is_queued_with_the_broker_down(shop, settings):
    batch = [event("receipt", quantity=1) for _ in range(501)]

    with broker_down(settings):
        response = shop.ops.post("/api/v1/inventory/events", batch, format="json")

    assert response.status_code == 202
    assert EventBatch.objects.get(pk=response.json()["job"]).status == "queued"


def test_once_the_broker_is_back_the_sweeps_publish_what_was_missed(shop, settings):
    with broker_down(settings):
        writes(shop, "dead")
        order_id = Order.objects.get(external_id="dead-order").pk
        job = shop.ops.post(
            "/api/v1/inventory/events", [event("receipt") for _ in range(501)], format="json"
        ).json()["job"]
    accepted = DomainEvent.objects.get(name="order.accepted", aggregate_id=str(order_id))
    assert accepted.dispatched_at is None

    celery_app.control.purge()
    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10
    ):
        # What the beat would send (retailsync.settings.CELERY_BEAT_SCHEDULE).
        celery_app.send_task(
            "retailsync.core.tasks.events_dispatch_pending", kwargs={"older_than_seconds": 0}
        )
        celery_app.send_task(
            "inventory.tasks.inventory_sweep_task", kwargs={"older_than_seconds": 0}
        )
        wait_for(lambda: DomainEvent.objects.get(pk=accepted.pk).dispatched_at is not None)
        wait_for(lambda: EventBatch.objects.get(pk=job).status == "done")

    assert Position.objects.get(item__sku="TEE").on_hand == 9 + 9 + 501


class _Receiver(BaseHTTPRequestHandler):
    pushed: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        _Receiver.pushed.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.pushed = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/stock"
    server.shutdown()
    server.server_close()


def test_webhook_pushes_not_published_are_sent_by_the_sweep(shop, settings, webhook):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]  # the receiver listens on loopback
    allocation_set(channel=shop.channel, locations=["WH1"], webhook_url=webhook)
    _Receiver.pushed = []  # what the warm-up and this change pushed, eagerly

    with broker_down(settings):
        shop.ops.post("/api/v1/inventory/events", event("receipt", quantity=4), format="json")
        seconds = timed(availability_refresh_all)[1]  # as the admin does after a rule change
    delivery = WebhookDelivery.objects.get(status="pending")
    assert (delivery.attempts, seconds < QUICK) == (0, True)

    celery_app.control.purge()
    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10
    ):
        celery_app.send_task(
            "inventory.tasks.inventory_sweep_task", kwargs={"older_than_seconds": 0}
        )
        wait_for(lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == "delivered")

    [pushed] = _Receiver.pushed
    assert (pushed["channel"], pushed["items"][0]["sku"]) == ("web", "TEE")
