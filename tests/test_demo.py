"""`make demo` loads the demo retailer with seed_demo: it must work, twice, and say only what
a person reads (the URL, the logins, the channels' tokens, an order to post) on the port asked.

Its settlement files go wrong on purpose by amounts chosen by hand (retailsync/demo_payouts.py):
Stripe charges one order 0.45 above the schedule and pays 62.72 net (64.90 less 2.9 % + 0.30)
for an order we do not have; Amazon refunds one unit no return explains; PayPal takes a chargeback
back; Adyen captures one order 10.00 short; the wholesale remittance pays 1250.00 for an invoice
we never issued. The bank credits the Stripe, Amazon and wholesale payouts with their ids, the
Adyen payout by amount alone, and never the PayPal one."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from inventory.models import ChannelAvailability, Reservation
from orders.models import Order
from retailsync.core.models import Channel, ExceptionItem
from retailsync.demo_orders import CATALOG
from returns.models import Return
from settlements.matching.deposits import settlements_age
from settlements.models import SettlementBatch, SettlementLine, Upload

ROOT = Path(__file__).resolve().parents[1]
DEMO_CHANNELS = ["webshop", "amazon-us", "store-nyc", "magento-eu", "woo-uk", "wholesale"]
# Provider → the channel it pays out, and what its file holds for a person to look at.
PAYOUTS = {
    "stripe": ("webshop", {"fee_variance", "no_order"}),
    "amazon": ("amazon-us", {"amount_mismatch"}),
    "paypal": ("woo-uk", {"chargeback"}),
    "adyen": ("magento-eu", {"amount_mismatch"}),
    "generic": ("wholesale", {"no_order"}),
}


def settlements_as_designed(report: dict[str, int]) -> None:
    """A batch per provider that adds up, matched orders and the exceptions put there on
    purpose; the bank statement paying out all but PayPal."""
    assert (report["files"], report["refused"], report["payouts"]) == (6, 0, 5)
    for provider, (channel, reasons) in PAYOUTS.items():
        batch = SettlementBatch.objects.get(provider=provider)
        assert batch.channel is not None and batch.channel.code == channel
        assert batch.payout_amount == batch.net and batch.variance == 0, provider
        lines = SettlementLine.objects.filter(batch=batch)
        assert lines.filter(outcome="matched", reason="", order__isnull=False).exists(), provider
        assert set(lines.exclude(reason="").values_list("reason", flat=True)) == reasons
        assert lines.filter(outcome="unmatched").count() == ("no_order" in reasons), provider
    kinds = ["fee_variance", "no_order", "amount_mismatch", "chargeback"]
    figures = {
        (e.kind, e.reason.split()[0]): Decimal(e.details.get("variance") or e.details["net"])
        for e in ExceptionItem.objects.filter(kind__in=kinds)
    }
    assert report["exceptions"] == len(figures) == 6
    unit = -figures.pop(("amount_mismatch", "Amazon"))
    assert unit in {price for _, _, price in CATALOG}  # one unit of one of the order's lines
    assert figures == {
        ("fee_variance", "Stripe"): Decimal("-0.45"),
        ("no_order", "Stripe"): Decimal("62.72"),
        ("chargeback", "PayPal"): Decimal(0),
        ("amount_mismatch", "Adyen"): Decimal("-10.00"),
        ("no_order", "Generic"): Decimal("1250.00"),
    }

    statements = SettlementBatch.objects.filter(provider="camt053")
    assert sorted(statements.values_list("currency", flat=True)) == ["EUR", "USD"]
    deposited = {
        b.provider: (b.deposit_line.rule if b.deposit_line else "", b.deposit_status)
        for b in SettlementBatch.objects.filter(is_statement=False)
    }
    assert deposited == {
        "stripe": ("reference", "matched"),
        "amazon": ("reference", "matched"),
        "adyen": ("amount_date", "matched"),
        "generic": ("reference", "matched"),
        "paypal": ("", "pending"),
    }
    assert report["deposited"] == 4
    for batch in SettlementBatch.objects.filter(deposit_status="matched"):
        assert batch.deposit_line is not None and batch.deposit_line.net == batch.payout_amount
    # The payroll debit is the statement's one line that is no payout.
    credits = SettlementLine.objects.filter(batch__in=statements)
    assert list(credits.filter(outcome="unmatched").values_list("kind", flat=True)) == [
        "withdrawal"
    ]


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
    settlements_as_designed(first["settlements"])
    counts = (
        Order.objects.count(),
        Return.objects.count(),
        Reservation.objects.count(),
        Upload.objects.count(),
        SettlementBatch.objects.count(),
        SettlementLine.objects.count(),
    )
    # Hundreds of tasks ran in-process; none of the workers' log lines reached the person.
    assert [r for r in caplog.records if r.name.startswith(("celery", "kombu"))] == []

    call_command("seed_demo", orders_per_channel=6, json=True)
    again = json.loads(capsys.readouterr().out)

    assert (again["orders"], again["rejected"], again["channels"]) == (0, 0, {})
    assert again["settlements"]["files"] == 0
    assert (
        Order.objects.count(),
        Return.objects.count(),
        Reservation.objects.count(),
        Upload.objects.count(),
        SettlementBatch.objects.count(),
        SettlementLine.objects.count(),
    ) == counts
    # Every run shows a token per demo channel: the first run's are not shown again.
    assert list(again["tokens"]) == DEMO_CHANNELS
    assert set(again["tokens"].values()).isdisjoint(first["tokens"].values())

    # The PayPal payout never reaches the bank: when the hourly ageing runs, it is missing.
    settlements_age(now=timezone.now())
    assert list(
        SettlementBatch.objects.filter(deposit_status="missing").values_list("provider")
    ) == [("paypal",)]
    assert ExceptionItem.objects.filter(kind="deposit_missing", status="open").count() == 1


def test_make_demo_prints_what_a_person_reads_and_serves_on_the_port_asked(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "PORT")}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "DEBUG": "1"}
    env["MEDIA_ROOT"] = str(tmp_path / "media")  # the demo's settlement files, not the checkout's

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
    assert re.search(
        r"^Imported 6 settlement files and bank statements: 5 payouts, \d+ lines,\n"
        r"\d+ for a person to look at, 4 payouts found in the bank: "
        r"http://127.0.0.1:8123/settlements/$",
        out,
        re.M,
    ), out
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
