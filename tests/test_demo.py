"""`make demo` loads the demo retailer with seed_demo: it must work, twice, and say only what
a person reads (the URL, the logins, the channels' tokens, an order to post) on the port asked."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from inventory.models import ChannelAvailability, Reservation
from orders.models import Order
from retailsync.core.models import Channel, ExceptionItem
from returns.models import Return

ROOT = Path(__file__).resolve().parents[1]
DEMO_CHANNELS = ["webshop", "amazon-us", "store-nyc", "magento-eu", "woo-uk", "wholesale"]


@pytest.mark.django_db(transaction=True)
def test_seed_demo_loads_every_screen_and_is_idempotent(capsys, caplog):
    with caplog.at_level(logging.INFO):
        call_command("seed_demo", orders_per_channel=6, json=True)
    first = json.loads(capsys.readouterr().out)

    assert set(Channel.objects.values_list("source", flat=True)) == {
        "shopify",
        "amazon",
        "pos",
        "magento",
        "woocommerce",
        "canonical",
    }
    # One order per channel is wrong on purpose and waits in the exception queue.
    assert (first["orders"], first["rejected"]) == (30, 6)
    assert ExceptionItem.objects.filter(kind="order_rejected").count() == 6
    assert Reservation.objects.exists()
    assert ChannelAvailability.objects.exists()
    assert Return.objects.exists()
    counts = (Order.objects.count(), Return.objects.count(), Reservation.objects.count())
    # Hundreds of tasks ran in-process; none of the workers' log lines reached the person.
    assert [r for r in caplog.records if r.name.startswith(("celery", "kombu"))] == []

    call_command("seed_demo", orders_per_channel=6, json=True)
    again = json.loads(capsys.readouterr().out)

    assert (again["orders"], again["rejected"], again["channels"]) == (0, 0, {})
    assert (Order.objects.count(), Return.objects.count(), Reservation.objects.count()) == counts
    # Every run shows a token per demo channel: the first run's are not shown again.
    assert list(again["tokens"]) == DEMO_CHANNELS
    assert set(again["tokens"].values()).isdisjoint(first["tokens"].values())


def test_make_demo_prints_what_a_person_reads_and_serves_on_the_port_asked(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "PORT")}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "DEBUG": "1"}

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )

    manage("migrate", "-v0")
    seeded = manage("seed_demo", "--orders-per-channel", "2", "--url", "http://127.0.0.1:8123/")

    assert seeded.stderr == ""
    out = seeded.stdout
    assert len(out.splitlines()) < 25, out
    assert out.startswith("retailsync demo: http://127.0.0.1:8123/\n")
    assert "Log in as finance, ops or admin, password demo-pass-2026." in out
    tokens = dict(re.findall(r"^  ([a-z0-9-]+) +(\S{40,})$", out, re.M))
    assert list(tokens) == DEMO_CHANNELS
    assert (
        "  curl -X POST http://127.0.0.1:8123/api/v1/channels/wholesale/orders \\\n"
        f'       -H "Authorization: Token {tokens["wholesale"]}" \\\n'
        '       -H "Content-Type: application/json" --data @tests/fixtures/canonical/order.json'
    ) in out
    assert (ROOT / "tests/fixtures/canonical/order.json").exists()

    def make_demo(*args: str) -> str:
        return subprocess.run(
            ["make", "-n", "demo", *args], cwd=ROOT, env=env, capture_output=True, text=True
        ).stdout

    assert "seed_demo --url http://127.0.0.1:8123/" in make_demo("PORT=8123")
    assert "runserver 127.0.0.1:8123" in make_demo("PORT=8123")
    assert "runserver 127.0.0.1:8000" in make_demo()
