"""A PayPal settlement report matched: files/paypal_stl.csv, worked out by hand in
parsers/test_paypal.py. Its row 8 is the withdrawal to the bank, T0400 DR 5000 USD (−50.00),
under PayPal's transaction id 1AB23456CD789012E; none of the report's payments is an order of
ours here.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from settlements.models import SettlementBatch, SettlementLine

from .conftest import upload

pytestmark = pytest.mark.django_db


def test_a_paypal_withdrawal_is_its_batch_s_payout_not_an_order_we_lack() -> None:
    done = upload("paypal_stl.csv", "paypal")
    assert done.status == "done", done.errors
    withdrawal = SettlementLine.objects.get(line_key="1AB23456CD789012E")
    assert (withdrawal.kind, withdrawal.net, withdrawal.payment_ref) == (
        "payout",
        Decimal("-50.00"),
        "1AB23456CD789012E",
    )
    assert (withdrawal.outcome, withdrawal.rule, withdrawal.reason) == ("matched", "payout", "")
    payment = SettlementLine.objects.get(line_key="5TY12345AB678901C")
    assert (payment.outcome, payment.reason) == ("unmatched", "no_order")
    batch = SettlementBatch.objects.get(key="ABCDEFGHIJKLM:2016-03-07:USD")
    assert batch.payout_amount == Decimal("50.00")
