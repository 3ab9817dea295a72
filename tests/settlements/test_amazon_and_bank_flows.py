"""An Amazon settlement matched order by order, and payouts found in bank statements.

amazon_v2_us.tsv (settlement 20240415001), for order 113-4829147-6102653 (total 65.71 of which
Amazon collects the 3.72 tax itself, so 61.99 is expected): principal 50.00 + 12.00, shipping
4.99 + 2.00, promotion −7.00 = 61.99; tax and its withholding cancel out; commission −7.50 −
1.80 = −9.30 (the schedule: 15 % of 61.99 = 9.30). Plus 20.00 for an order we do not know and
a −39.99 subscription fee. Total 61.99 − 9.30 + 20.00 − 39.99 = 32.70, deposited on
2024-04-17 with the settlement id in the remittance text (camt.053).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from retailsync.core.models import DomainEvent, ExceptionItem
from settlements.matching.deposits import settlements_age
from settlements.models import (
    ExpectedSettlement,
    FeeSchedule,
    ProviderSettings,
    SettlementBatch,
    SettlementLine,
)
from tests.conftest import fixture_bytes

from .conftest import upload

pytestmark = pytest.mark.django_db
ORDER = "113-4829147-6102653"


@pytest.fixture
def amazon(make_channel: Any, django_capture_on_commit_callbacks: Any) -> Any:
    channel = make_channel("amazon", code="amazon-us")
    FeeSchedule.objects.create(provider="amazon", percent=Decimal("15"))
    ProviderSettings.objects.create(provider="amazon", channel=channel.channel)
    with django_capture_on_commit_callbacks(execute=True):
        answer = channel.post_order(fixture_bytes("amazon/us_mfn_two_items_promotion.json"))
    assert answer.status_code == 201
    return channel


def test_an_amazon_settlement_groups_an_order_s_rows_into_one_match(amazon: Any) -> None:
    expected = ExpectedSettlement.objects.get()
    assert (expected.gross, expected.fee, expected.provider) == (
        Decimal("61.99"),
        Decimal("-9.30"),
        "amazon",
    )
    done = upload("flows/amazon_v2_us.tsv", "amazon")
    assert done.status == "done", done.errors
    batch = SettlementBatch.objects.get(provider="amazon", key="20240415001")
    assert batch.channel == amazon.channel
    assert (batch.gross, batch.fees, batch.net, batch.payout_amount, batch.variance) == (
        Decimal("81.99"),  # 61.99 of the order + 20.00 unknown (tax rows cancel)
        Decimal("-49.29"),  # commission 9.30 + subscription 39.99
        Decimal("32.70"),
        Decimal("32.70"),
        Decimal("0"),
    )
    order_lines = SettlementLine.objects.filter(order_ref=ORDER)
    assert order_lines.count() == 13
    assert set(order_lines.values_list("outcome", "reason")) == {("matched", "")}
    assert set(order_lines.values_list("rule", flat=True)) == {"order_ref"}
    assert SettlementLine.objects.get(order_ref="114-0000000-0000000").reason == "no_order"
    fee = SettlementLine.objects.get(description__icontains="Subscription")
    assert (fee.outcome, fee.rule) == ("matched", "batch")
    expected.refresh_from_db()
    assert expected.status == "settled"
    event = DomainEvent.objects.get(name="settlement.batch_matched")
    assert Decimal(event.payload["net"]) == Decimal("32.70")
    assert batch.deposit_status == "pending"


def test_the_payout_is_found_in_the_bank_by_its_settlement_id(amazon: Any) -> None:
    upload("flows/amazon_v2_us.tsv", "amazon")
    statement = upload("flows/camt053_amazon_deposit.xml", "camt053")
    assert statement.status == "done", statement.errors
    batch = SettlementBatch.objects.get(key="20240415001")
    assert batch.deposit_status == "matched"
    assert str(batch.deposited_on) == "2024-04-17"
    assert batch.deposit_line is not None and batch.deposit_line.net == Decimal("32.70")
    assert batch.deposit_line.rule == "reference"
    event = DomainEvent.objects.get(name="payout.deposited")
    assert Decimal(event.payload["amount"]) == Decimal("32.70")


def test_a_control_total_that_disagrees_leaves_nothing_and_tells_finance(amazon: Any) -> None:
    failed = upload("flows/amazon_v2_us_total_off.tsv", "amazon")
    assert failed.status == "failed"
    assert "33.70" in failed.errors[0]["reason"] and "32.70" in failed.errors[0]["reason"]
    assert SettlementBatch.objects.count() == 0 and SettlementLine.objects.count() == 0
    queued = ExceptionItem.objects.get(kind="settlement_file_refused")
    assert "amazon_v2_us_total_off.tsv" in queued.reason


def test_a_payout_never_seen_in_the_bank_ages_to_missing(amazon: Any) -> None:
    upload("flows/amazon_v2_us.tsv", "amazon")
    counts = settlements_age(now=timezone.now())
    assert counts["missing"] == 1
    batch = SettlementBatch.objects.get(key="20240415001")
    assert batch.deposit_status == "missing"
    assert ExceptionItem.objects.filter(kind="deposit_missing", status="open").count() == 1
    # The statement arriving late still finds it, and the exception goes.
    upload("flows/camt053_amazon_deposit.xml", "camt053")
    batch.refresh_from_db()
    assert batch.deposit_status == "matched"
    assert ExceptionItem.objects.filter(kind="deposit_missing", status="open").count() == 0


def test_stripe_payouts_in_bai2_by_reference_and_mt940_by_amount_and_date(
    stripe_orders: Any,
) -> None:
    for name in ("first", "second", "third"):
        assert upload(f"flows/stripe_po_{name}.csv", "stripe").status == "done"
    bai2 = upload("flows/bai2_stripe_deposit.bai2", "bai2")
    assert bai2.status == "done", bai2.errors
    mt940 = upload("flows/mt940_amount_only.sta", "mt940")
    assert mt940.status == "done", mt940.errors
    status = {
        b.key: (
            b.deposit_status,
            str(b.deposited_on),
            b.deposit_line.rule if b.deposit_line else "",
        )
        for b in SettlementBatch.objects.filter(provider="stripe")
    }
    assert status["po_FIRST"] == ("matched", "2026-11-24", "reference")
    assert status["po_THIRD"] == ("matched", "2026-11-28", "amount_date")
    assert status["po_SECOND"][0] == "pending"  # −28.01: nothing to deposit yet


def test_expectations_past_their_lag_are_overdue_until_the_money_comes(amazon: Any) -> None:
    counts = settlements_age(now=timezone.now())  # the fixture's order is from April 2024
    assert counts["overdue"] == 1
    assert ExceptionItem.objects.filter(kind="settlement_overdue", status="open").count() == 1
    upload("flows/amazon_v2_us.tsv", "amazon")
    assert ExceptionItem.objects.filter(kind="settlement_overdue", status="open").count() == 0
