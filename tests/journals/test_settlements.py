"""Settlements to the ledger, worked out by hand.

The Stripe payout po_1 of 2026-11-14 settles the order R-1 (224.60, paid by ch_R1):
  charge 224.60 less its fee 6.81; a refund of 38.34; a chargeback of 50.00 with its 15.00 fee;
  a monthly fee 2.00; a commission 5.00; advertising 10.00; a reserve held 20.00.
  Lines add up to 224.60 − 6.81 − 38.34 − 50.00 − 15.00 − 2.00 − 5.00 − 10.00 − 20.00 = 77.45,
  the payout.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from journals.models import JournalEntry, JournalLineSource
from settlements.matching.actions import line_write_off
from settlements.models import SettlementLine
from settlements.parsers.base import LineKind as L
from settlements.parsers.base import ParsedBatch
from tests.journals.conftest import (
    amounts,
    dispatch,
    line,
    payout,
    place,
    settle,
    ship,
    sold,
    sources_add_up,
)
from tests.orders.payloads import canonical_order

pytestmark = pytest.mark.django_db
D = Decimal


def stripe_payout(channel):  # type: ignore[no-untyped-def]
    b = "po_1"
    return settle(
        "stripe",
        [payout(b, "77.45", date(2026, 11, 14))],
        [
            line("txn_1", L.CHARGE, "224.60", "-6.81", batch=b, payment_ref="ch_R1", row=1),
            line(
                "txn_2", L.REFUND, "-38.34", batch=b, payment_ref="re_1", related_ref="ch_R1", row=2
            ),
            line(
                "txn_3",
                L.CHARGEBACK,
                "-50.00",
                "-15.00",
                batch=b,
                payment_ref="dp_1",
                related_ref="ch_R1",
                row=3,
            ),
            line("txn_4", L.FEE, "-2.00", batch=b, row=4, description="Monthly fee"),
            line("txn_5", L.COMMISSION, "-5.00", batch=b, row=5),
            line("txn_6", L.ADVERTISING, "-10.00", batch=b, row=6),
            line("txn_7", L.RESERVE_HOLD, "-20.00", batch=b, row=7),
            line("txn_8", L.PAYOUT, "-77.45", batch=b, row=8),
        ],
        channel=channel,
    )[0]


def test_a_matched_payout_posts_cash_in_transit_fees_commission_and_chargebacks_against_clearing(
    books,
):
    sold(books)
    dispatch()
    batch = stripe_payout(books.channel)
    dispatch()

    entry = JournalEntry.objects.get(posting_date=date(2026, 11, 14))
    assert (entry.channel.code, entry.payment_method, entry.currency) == ("web", "stripe", "USD")
    lines = {
        (x.account.code, "debit" if x.debit else "credit"): (x.debit or x.credit).quantize(
            D("0.01")
        )
        for x in entry.lines.select_related("account")
    }
    assert lines == {
        ("1150", "debit"): D("77.45"),  # cash in transit: the payout
        ("1100", "credit"): D("224.60"),  # the sale it settles
        ("1100", "debit"): D("38.34"),  # the refund it took back
        ("6100", "debit"): D("8.81"),  # 6.81 on the charge + the 2.00 monthly fee
        ("6110", "debit"): D("5.00"),
        ("6120", "debit"): D("10.00"),
        ("6130", "debit"): D("65.00"),  # chargeback 50.00 and its 15.00 fee
        ("1250", "debit"): D("20.00"),
    }
    sources_add_up(entry)
    fees = entry.lines.get(account__code="6100")
    by_line = dict(fees.sources.values_list("source_id", "amount"))
    charge = SettlementLine.objects.get(line_key="txn_1")
    monthly = SettlementLine.objects.get(line_key="txn_4")
    assert by_line == {charge.pk: D("6.81"), monthly.pk: D("2.00")}
    assert set(fees.sources.values_list("source_type", flat=True)) == {"settlement_line"}
    cash = entry.lines.get(account__code="1150")
    assert list(cash.sources.values_list("source_type", "source_id")) == [
        ("settlement_batch", batch.pk)
    ]


def test_the_payout_reaching_the_bank_moves_it_from_cash_in_transit(books):
    sold(books)
    stripe_payout(books.channel)
    settle(
        "camt053",
        [ParsedBatch(key="stmt-1", currency="USD", account="DE00")],
        [line("bank-1", L.DEPOSIT, "77.45", batch="stmt-1", description="STRIPE po_1", at=None)],
    )
    dispatch()

    entry = JournalEntry.objects.get(lines__account__code="1000")
    assert amounts(entry) == {
        ("1000", "Bank (stripe)"): (D("77.45"), D("0.00")),
        ("1150", "Cash in transit (stripe)"): (D("0.00"), D("77.45")),
    }
    sources_add_up(entry)


def test_a_written_off_line_goes_to_write_offs_with_its_reason(books):
    settle(
        "stripe",
        [payout("po_2", "3.00", date(2026, 11, 20))],
        [line("adj_1", L.CHARGE, "3.00", batch="po_2", payment_ref="ch_unknown")],
        channel=books.channel,
    )
    unknown = SettlementLine.objects.get(line_key="adj_1")
    assert unknown.outcome == "unmatched"
    line_write_off(
        unknown,
        user=books.finance.user,
        reason="Test charge by Stripe",
        now=unknown.batch.created_at,
    )
    dispatch()

    written = JournalEntry.objects.get(lines__account__code="6900")
    assert amounts(written) == {
        ("1100", "Channel clearing (stripe)"): (D("3.00"), D("0.00")),
        ("6900", "Write-off: Test charge by Stripe"): (D("0.00"), D("3.00")),
    }
    assert set(
        JournalLineSource.objects.filter(line__entry=written).values_list(
            "source_type", "source_id"
        )
    ) == {("settlement_line", unknown.pk)}


def test_a_sale_settled_in_another_currency_relieves_its_clearing_at_the_settlement_s_rate(
    books, make_channel
):
    eu = make_channel(code="web-eu", currency="EUR")
    eu.ops = books.ops
    order_id = place(
        eu,
        canonical_order(
            external_id="EU-1",
            currency="EUR",
            lines=[
                {"sku": "SCARF", "quantity": 1, "unit_price": "100.00", "discount": "0", "tax": "0"}
            ],
            shipping={"amount": "0", "discount": "0", "tax": "0"},
            payments=[{"gateway": "stripe", "reference": "ch_EU1", "amount": "100.00"}],
            total="100.00",
        ),
    )
    ship(eu, order_id, [{"sku": "SCARF", "quantity": 1}], "2026-11-11T12:00:00Z")
    # Settled in dollars: 108.00 for the 100.00 EUR, less a 3.00 fee.
    settle(
        "stripe",
        [payout("po_fx", "105.00", date(2026, 11, 16))],
        [line("fx_1", L.CHARGE, "108.00", "-3.00", batch="po_fx", payment_ref="ch_EU1")],
        channel=books.channel,  # the dollar Stripe account, on the US web channel
    )
    dispatch()

    fx_line = SettlementLine.objects.get(line_key="fx_1")
    assert fx_line.order_id == order_id
    usd = JournalEntry.objects.get(posting_date=date(2026, 11, 16), currency="USD")
    eur = JournalEntry.objects.get(posting_date=date(2026, 11, 16), currency="EUR")
    label = f"FX USD/EUR 1.080000: order {order_id}"
    assert amounts(usd) == {
        ("1150", "Cash in transit (stripe)"): (D("105.00"), D("0.00")),
        ("6100", "Payment fees"): (D("3.00"), D("0.00")),
        ("7900", label): (D("0.00"), D("108.00")),
    }
    assert amounts(eur) == {
        ("7900", label): (D("100.00"), D("0.00")),
        ("1100", "Channel clearing (stripe)"): (D("0.00"), D("100.00")),
    }
    rated = eur.lines.get(account__code="7900")
    assert rated.fx_rate == D("1.08")
    assert rated.fx_rate_source == f"settlement charges of order {order_id} over its total"
    # The sale's clearing in euros is relieved: 100.00 debited at shipment, 100.00 credited now.
    sale = JournalEntry.objects.get(currency="EUR", posting_date=date(2026, 11, 11))
    assert amounts(sale)[("1100", "Channel clearing (stripe)")] == (D("100.00"), D("0.00"))
