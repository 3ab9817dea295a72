"""Stripe itemized payout reconciliation report, checked against figures worked out by hand.

files/stripe_payout_reconciliation.csv, header on line 1, rows on lines 2-13:

    po_1PqR (USD): charge 100.00 - fee 3.20 = 96.80 (line 2); refund -20.00 (3);
        charge 50.00 - 1.75 = 48.25 (5); dispute -50.00 - 15.00 = -65.00 (6);
        dispute reversal 50.00 + 15.00 = 65.00 (7); Radar fee -2.00 (8); adjustment 1.00 (10);
        reserve -10.00 (11); top-up 0.50 (12)     nets 96.80 - 20.00 + 48.25 - 65.00 + 65.00
                                                  - 2.00 + 1.00 - 10.00 + 0.50 = 114.55
        payout row -114.55 (13)
    po_2XyZ (EUR), no payout row: charge 30.00 - 1.17 = 28.83 (4); refund -5.00 (9) = 23.83
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from settlements.parsers import PARSERS, stripe
from settlements.parsers.base import LineKind, ParsedBatch, ParsedLine, ParseError, Record

FILES = Path(__file__).resolve().parent.parent / "files"
REPORT = (FILES / "stripe_payout_reconciliation.csv").read_bytes()


def parse(data: bytes) -> list[Record]:
    return list(stripe.parse(io.BytesIO(data)))


def lines_of(records: list[Record]) -> dict[int, ParsedLine]:
    return {r.row: r for r in records if isinstance(r, ParsedLine)}


def refusal(data: bytes) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse(data)
    return caught.value


def test_payouts_are_announced_after_their_lines_with_the_amount_the_file_says() -> None:
    records = parse(REPORT)
    assert all(isinstance(r, ParsedLine) for r in records[:12])
    assert records[12:] == [
        ParsedBatch(
            key="po_1PqR",
            currency="USD",
            payout_amount=Decimal("114.55"),  # minus the payout row
            period_start=date(2024, 3, 3),
            period_end=date(2024, 3, 5),
            deposit_date=date(2024, 3, 6),
        ),
        ParsedBatch(
            key="po_2XyZ",
            currency="EUR",
            payout_amount=Decimal("23.83"),  # no payout row: the sum of the nets
            period_start=date(2024, 3, 6),
            period_end=date(2024, 3, 7),
            deposit_date=date(2024, 3, 8),
        ),
    ]
    assert PARSERS["stripe"] is stripe.parse


def test_a_charge_field_by_field_with_the_fee_turned_to_our_sign() -> None:
    line = lines_of(parse(REPORT))[2]
    assert line == ParsedLine(
        row=2,
        batch_key="po_1PqR",
        line_key="txn_3AbC",
        kind=LineKind.CHARGE,
        currency="USD",
        gross=Decimal("100.00"),
        fee=Decimal("-3.20"),
        net=Decimal("96.80"),
        posted_at=datetime(2024, 3, 4, 15, 22, 10, tzinfo=UTC),  # created_utc, not created
        order_ref="#1001",
        payment_ref="ch_3AbC",
        related_ref="",
        payment_method="visa",
        description="charge",
        raw=REPORT.decode().splitlines()[1],
        extra={
            "source_id": "ch_3AbC",
            "charge_id": "ch_3AbC",
            "payment_intent_id": "pi_3AbC",
            "description": "Order #1001, web",
            "customer_facing_amount": "100.00",
            "customer_facing_currency": "usd",
            "payment_method_type": "card",
            "card_brand": "visa",
        },
    )


def test_kinds_signs_and_references_of_every_row() -> None:
    lines = lines_of(parse(REPORT))
    assert {row: (line.kind, line.gross, line.fee, line.net) for row, line in lines.items()} == {
        2: (LineKind.CHARGE, Decimal("100.00"), Decimal("-3.20"), Decimal("96.80")),
        3: (LineKind.REFUND, Decimal("-20.00"), Decimal(0), Decimal("-20.00")),
        4: (LineKind.CHARGE, Decimal("30.00"), Decimal("-1.17"), Decimal("28.83")),
        5: (LineKind.CHARGE, Decimal("50.00"), Decimal("-1.75"), Decimal("48.25")),
        6: (LineKind.CHARGEBACK, Decimal("-50.00"), Decimal("-15.00"), Decimal("-65.00")),
        7: (LineKind.CHARGEBACK_REVERSAL, Decimal("50.00"), Decimal("15.00"), Decimal("65.00")),
        8: (LineKind.FEE, Decimal(0), Decimal("-2.00"), Decimal("-2.00")),
        9: (LineKind.REFUND, Decimal("-5.00"), Decimal(0), Decimal("-5.00")),
        10: (LineKind.ADJUSTMENT, Decimal("1.00"), Decimal(0), Decimal("1.00")),
        11: (LineKind.RESERVE_HOLD, Decimal("-10.00"), Decimal(0), Decimal("-10.00")),
        12: (LineKind.OTHER, Decimal("0.50"), Decimal(0), Decimal("0.50")),
        13: (LineKind.PAYOUT, Decimal("-114.55"), Decimal(0), Decimal("-114.55")),
    }
    refund = lines[3]
    assert (refund.payment_ref, refund.related_ref, refund.order_ref) == (
        "ch_3AbC",
        "ch_3AbC",
        "#1001",
    )
    assert refund.extra["source_id"] == "re_3DeF"
    dispute = lines[6]
    assert (dispute.payment_ref, dispute.related_ref) == ("ch_3GhI", "ch_3GhI")
    assert dispute.extra["dispute_reason"] == "fraudulent"
    assert lines[4].currency == "EUR"
    assert lines[4].batch_key == "po_2XyZ"
    usd = [line for line in lines.values() if line.batch_key == "po_1PqR"]
    assert sum(line.net for line in usd) == 0  # the payout row empties the balance


def test_a_payout_row_that_disagrees_with_its_rows_is_refused_naming_both() -> None:
    error = refusal(REPORT.replace(b"-114.55,0.00,-114.55", b"-114.45,0.00,-114.45"))
    assert error.row == 13
    assert "-114.45" in error.reason
    assert "114.55" in error.reason


def test_a_row_whose_net_is_not_gross_minus_fee_is_refused() -> None:
    error = refusal(REPORT.replace(b"50.00,1.75,48.25", b"50.00,1.75,48.35"))
    assert error.row == 5
    assert error.reason == "net is 48.35 but gross 50.00 minus fee 1.75 is 48.25"


def test_an_amount_that_is_not_a_number_is_refused_naming_column_and_value() -> None:
    error = refusal(REPORT.replace(b"usd,-20.00,0.00,", b"usd,-20.OO,0.00,"))
    assert (error.row, error.reason) == (3, "gross: '-20.OO' is not an amount")


def test_a_row_with_a_missing_column_is_refused() -> None:
    rows = REPORT.split(b"\n")
    rows[6] = rows[6].replace(b",fraudulent,", b",")
    error = refusal(b"\n".join(rows))
    assert (error.row, error.reason) == (7, "expected 22 columns, found 21")


def test_a_file_cut_mid_row_is_refused_as_truncated() -> None:
    cut = REPORT[: REPORT.index(b"txn_po1PqR") + 6]
    error = refusal(cut)
    assert error.row == 13
    assert "truncated" in error.reason


def test_a_file_cut_inside_a_quoted_field_is_refused_as_truncated() -> None:
    cut = REPORT[: REPORT.index(b'"Order #1001') + 8]
    error = refusal(cut)
    assert error.row == 2
    assert "truncated" in error.reason


def test_a_latin1_file_is_refused_with_the_row() -> None:
    data = REPORT.replace(b"Goodwill credit", "Geste commercial: remboursé".encode("latin-1"))
    error = refusal(data)
    assert error.row == 10


def test_a_payout_in_two_currencies_is_refused() -> None:
    error = refusal(
        REPORT.replace(
            b"txn_3GhI,2024-03-03 08:15:00,2024-03-03 09:15:00,2024-03-06 00:00:00,usd",
            b"txn_3GhI,2024-03-03 08:15:00,2024-03-03 09:15:00,2024-03-06 00:00:00,eur",
        )
    )
    assert error.row == 5
    assert "USD" in error.reason and "EUR" in error.reason


def test_a_file_without_the_required_columns_is_refused_on_its_header() -> None:
    error = refusal(REPORT.replace(b"balance_transaction_id,", b"id,", 1))
    assert (error.row, error.reason) == (1, "missing column(s): balance_transaction_id")
