"""Accepted orders reach their reservations through real Celery workers: a hot SKU's backlog
does not hold other SKUs' orders behind it, and two worker processes draining one backlog side
by side reserve every order exactly once without overselling."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Sum

from inventory.models import Position, Reservation, StockMovement
from inventory.services import EventInput, allocation_set, stock_events_apply
from orders.services import orders_ingest
from retailsync.celery import app as celery_app
from retailsync.core import relay
from retailsync.core.coalesce import requests_forget
from retailsync.core.events import subscribers_for
from retailsync.core.models import DomainEvent, EventReceipt, ExceptionItem
from tests.conftest import wait_for
from tests.factories import ChannelFactory
from tests.inventory.test_reservations import order

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def receive(units: dict[str, int]) -> None:
    stock_events_apply(
        events=[
            EventInput(f"seed-{sku}", "wms", "receipt", sku, "WH1", quantity, NOW)
            for sku, quantity in units.items()
        ]
    )


def accepted(channel, orders: list[tuple[str, list[tuple[str, int]]]]) -> list[int]:  # type: ignore[no-untyped-def]
    """The orders ingested in one transaction, so the relay finds all of them waiting at once."""
    outcomes = orders_ingest(
        channel=channel, headers={}, payloads=[order(ref, lines) for ref, lines in orders]
    )
    assert all(o.status == "created" for o in outcomes)
    return [o.order_id for o in outcomes]


def all_dispatched() -> bool:
    return not DomainEvent.objects.filter(dispatched_at__isnull=True).exists()


def test_an_order_for_another_sku_is_reserved_while_a_hot_skus_backlog_is_drained(
    stock, worker, monkeypatch
):
    """Two hot SKUs with 300 orders each, then one order for a third SKU, all accepted in one
    commit. Dispatched in id order (as before), the mug's order would wait for all 600; it is
    reserved in the relay's first chunk of 100 instead, ahead of at least 500 hot orders."""
    monkeypatch.setattr(relay, "RELAY_CHUNK", 100)
    channel = ChannelFactory(code="web")
    allocation_set(channel=channel, locations=["WH1"])
    receive({"TEE": 1000, "CAP": 1000, "MUG": 5})
    hot = [(f"H{n}", [("TEE" if n % 2 else "CAP", 1)]) for n in range(600)]
    *_, mug_order = accepted(channel, [*hot, ("OTHER", [("MUG", 2)])])

    wait_for(all_dispatched, seconds=60)

    mug = Reservation.objects.get(order_id=mug_order)
    assert (mug.quantity, mug.requested) == (2, 2)
    hot_after = Reservation.objects.filter(item__sku__in=["TEE", "CAP"], pk__gt=mug.pk)
    assert hot_after.count() >= 500
    assert Reservation.objects.filter(item__sku__in=["TEE", "CAP"]).count() == 600


@pytest.fixture
def two_worker_processes() -> Iterator[list[IO[bytes]]]:
    """Two `celery -A retailsync worker` processes of one child each, on the test database and
    broker; yields their logs. Stopped (warm shutdown) afterwards."""
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    requests_forget(celery_app)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_QUEUE": celery_app.conf.task_default_queue,
        "DJANGO_SETTINGS_MODULE": "retailsync.settings",
    }
    celery = str(Path(sys.executable).parent / "celery")
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(2)]
        workers = [
            subprocess.Popen(
                [celery, "-A", "retailsync", "worker", "--concurrency=1",
                 f"--hostname=relay{n}@%h", "--loglevel=INFO", "--without-gossip",
                 "--without-mingle", "--without-heartbeat"],
                cwd=settings.BASE_DIR, env=env, stdout=log, stderr=log,
            )
            for n, log in enumerate(logs)
        ]  # fmt: skip
        try:
            wait_for(lambda: all(b"ready." in read(log) for log in logs), seconds=60)
            yield logs
        finally:
            for process in workers:
                process.send_signal(signal.SIGTERM)  # warm shutdown: the task in hand ends
            for process in workers:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            celery_app.control.purge()
            requests_forget(celery_app)
            celery_app.conf.task_always_eager = True


def read(log: IO[bytes]) -> bytes:
    log.seek(0)
    return log.read()


def relayed(log: IO[bytes]) -> list[int]:
    """What each relay run of a worker returned: the subscriber runs it did."""
    pattern = (
        rb"Task retailsync\.core\.tasks\.events_relay\[[^\]]+\] succeeded in [0-9.e-]+s: (\d+)"
    )
    return [int(n) for n in re.findall(pattern, read(log))]


def test_two_worker_processes_drain_one_backlog_together_reserving_each_order_once(
    stock, two_worker_processes
):
    """2,400 orders accepted in one commit: 1,600 for one unit of a tee of which 500 are in
    stock, 800 for a mug and a cap (plenty). Both workers take part; every order is reserved
    once, the tee is not oversold, and each short order is a backorder."""
    channel = ChannelFactory(code="web")
    allocation_set(channel=channel, locations=["WH1"])
    receive({"TEE": 500, "MUG": 2000, "CAP": 2000})
    orders = [
        (f"T{n}", [("TEE", 1)]) if n % 3 else (f"M{n}", [("MUG", 1), ("CAP", 2)])
        for n in range(2400)
    ]
    accepted(channel, orders)

    started = time.monotonic()
    wait_for(all_dispatched, seconds=120)
    print(f"drained 2,400 orders in {time.monotonic() - started:.1f} s")

    def both_relayed() -> bool:  # a run logs its result once it ends, after its last chunk
        return all(any(n > 0 for n in relayed(log)) for log in two_worker_processes)

    with contextlib.suppress(AssertionError):
        wait_for(both_relayed, seconds=30)
    assert both_relayed(), [relayed(log) for log in two_worker_processes]
    events = DomainEvent.objects.filter(name="order.accepted")
    assert events.count() == 2400
    for key in subscribers_for("order.accepted"):
        assert EventReceipt.objects.filter(subscriber=key).count() == 2400
    tee = Position.objects.get(item__sku="TEE")
    assert (tee.on_hand, tee.reserved) == (500, 500)
    for p in Position.objects.all():
        held = Reservation.objects.filter(item=p.item, location=p.location, status="active")
        ledger = StockMovement.objects.filter(item=p.item, reason="reservation")
        assert held.aggregate(n=Sum("quantity"))["n"] == p.reserved
        assert ledger.aggregate(n=Sum("reserved"))["n"] == p.reserved
    lines = Reservation.objects.values("order_line").distinct().count()
    assert lines == Reservation.objects.count() == 500 + 800 * 2  # one per line reserved
    assert ExceptionItem.objects.filter(kind="backorder").count() == 1600 - 500
    assert (
        Position.objects.get(item__sku="MUG").reserved,
        Position.objects.get(item__sku="CAP").reserved,
    ) == (800, 1600)
