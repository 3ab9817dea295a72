"""Adyen settlement details report, checked against figures worked out by hand.

files/adyen_settlement_detail_report_batch_57.csv, merchant account AcmeShopEUR, batch 57, CET;
header on line 1, rows on lines 2-11 (net credit minus net debit, in EUR):

    2  Settled visa 100.00, markup 0.30 + scheme 0.20 + interchange 1.30   net   98.20
    3  Refunded 20.00                                                        -20.00
    4  Settled mc, gross 54.00 USD at 0.92 = 49.68 EUR, commission 1.00       48.68
    5  Chargeback 30.00                                                      -30.00
    6  ChargebackReversed 30.00                                               30.00
    7  Fee (chargeback fee)                                                  -15.00
    8  InvoiceDeduction                                                       -5.00
    9  DepositCorrection                                                       2.50
    10 a journal type Adyen has not documented                                1.00
                                     98.20 - 20 + 48.68 - 30 + 30 - 15 - 5 + 2.50 + 1 = 110.38
    11 MerchantPayout, net debit 110.38 (2024-03-06 00:10 CET)
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from settlements.parsers import PARSERS, adyen
from settlements.parsers.base import LineKind, ParsedBatch, ParsedLine, ParseError, Record

FILES = Path(__file__).resolve().parent.parent / "files"
REPORT = (FILES / "adyen_settlement_detail_report_batch_57.csv").read_bytes()
BATCH = "AcmeShopEUR:57:EUR"


def parse(data: bytes) -> list[Record]:
    return list(adyen.parse(io.BytesIO(data)))


def lines_of(records: list[Record]) -> dict[int, ParsedLine]:
    return {r.row: r for r in records if isinstance(r, ParsedLine)}


def refusal(data: bytes) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse(data)
    return caught.value


def test_the_batch_comes_after_its_lines_with_the_payout_the_file_states() -> None:
    records = parse(REPORT)
    assert len(records) == 11
    assert records[-1] == ParsedBatch(
        key=BATCH,
        currency="EUR",
        payout_amount=Decimal("110.38"),
        period_start=date(2024, 3, 4),
        period_end=date(2024, 3, 5),
        deposit_date=date(2024, 3, 6),  # the payout's local date (23:10 UTC the day before)
    )
    assert PARSERS["adyen"] is adyen.parse


def test_a_settled_payment_field_by_field() -> None:
    line = lines_of(parse(REPORT))[2]
    assert line == ParsedLine(
        row=2,
        batch_key=BATCH,
        line_key="AcmeShopEUR:57:Settled:8825717284016274",
        kind=LineKind.CHARGE,
        currency="EUR",
        gross=Decimal("100.00"),
        fee=Decimal("-1.80"),
        net=Decimal("98.20"),
        posted_at=datetime(2024, 3, 4, 14, 22, 10, tzinfo=UTC),  # 15:22:10 CET
        order_ref="1001",
        payment_ref="8815717283949151",
        related_ref="",
        payment_method="visa",
        description="Settled",
        raw=REPORT.decode().splitlines()[1],
        extra={
            "markup": "0.30",
            "scheme_fees": "0.20",
            "interchange": "1.30",
            "company_account": "AcmeCo",
            "merchant_account": "AcmeShopEUR",
            "batch_number": "57",
            "type": "Settled",
            "modification_reference": "8825717284016274",
            "payment_method_variant": "visacredit",
        },
    )


def test_kinds_and_signs_of_every_row() -> None:
    lines = lines_of(parse(REPORT))
    assert {row: (line.kind, line.gross, line.fee, line.net) for row, line in lines.items()} == {
        2: (LineKind.CHARGE, Decimal("100.00"), Decimal("-1.80"), Decimal("98.20")),
        3: (LineKind.REFUND, Decimal("-20.00"), Decimal(0), Decimal("-20.00")),
        4: (LineKind.CHARGE, Decimal("49.68"), Decimal("-1.00"), Decimal("48.68")),
        5: (LineKind.CHARGEBACK, Decimal("-30.00"), Decimal(0), Decimal("-30.00")),
        6: (LineKind.CHARGEBACK_REVERSAL, Decimal("30.00"), Decimal(0), Decimal("30.00")),
        7: (LineKind.FEE, Decimal(0), Decimal("-15.00"), Decimal("-15.00")),
        8: (LineKind.FEE, Decimal(0), Decimal("-5.00"), Decimal("-5.00")),
        9: (LineKind.ADJUSTMENT, Decimal("2.50"), Decimal(0), Decimal("2.50")),
        10: (LineKind.OTHER, Decimal("1.00"), Decimal(0), Decimal("1.00")),
        11: (LineKind.PAYOUT, Decimal("-110.38"), Decimal(0), Decimal("-110.38")),
    }
    usd = lines[4]
    assert (usd.extra["gross_currency"], usd.extra["gross"], usd.extra["commission"]) == (
        "USD",
        "54.00",
        "1.00",
    )
    refund = lines[3]
    assert (refund.payment_ref, refund.related_ref, refund.order_ref) == (
        "8815717283949151",
        "8815717283949151",
        "1001",
    )
    assert refund.extra["modification_merchant_reference"] == "refund-1001-1"
    assert lines[7].line_key == "AcmeShopEUR:57:Fee:Chargeback fee 8845717288000001"


def test_a_foreign_gross_without_fee_columns_is_converted_at_the_exchange_rate() -> None:
    # 54.00 USD x 0.92 = 49.68 EUR; net 48.68: the fee is 1.00 with no commission column filled.
    data = REPORT.replace(b",48.68,1.00,,,,mccredit", b",48.68,,,,,mccredit")
    line = lines_of(parse(data))[4]
    assert (line.gross, line.fee, line.net) == (
        Decimal("49.68"),
        Decimal("-1.00"),
        Decimal("48.68"),
    )


def test_blank_lines_before_the_header_are_passed_over_and_rows_keep_their_numbers() -> None:
    records = parse(b"\n\r\n" + REPORT)
    assert records[-1] == parse(REPORT)[-1]
    assert sorted(lines_of(records)) == list(range(4, 14))
    error = refusal(b"\n" + REPORT.replace(b"Batch Number", b"Batch No"))
    assert (error.row, error.reason) == (2, "missing column(s): Batch Number")


def test_a_summer_time_in_a_cet_account_is_read_on_amsterdams_clock() -> None:
    data = REPORT.replace(b"2024-03-04 15:22:10,CET", b"2024-07-04 15:22:10,CET")
    assert lines_of(parse(data))[2].posted_at == datetime(2024, 7, 4, 13, 22, 10, tzinfo=UTC)


def test_repeated_free_references_get_distinct_line_keys() -> None:
    rows = REPORT.split(b"\n")
    fee = rows[6]
    data = b"\n".join([*rows[:7], fee, *rows[7:]]).replace(b",110.38,", b",95.38,")
    keys = [line.line_key for line in lines_of(parse(data)).values()]
    assert len(set(keys)) == 11
    assert "AcmeShopEUR:57:Fee:Chargeback fee 8845717288000001#2" in keys


@pytest.mark.parametrize(
    ("debit", "credit", "payout", "kind", "net"),
    [
        (b"", b"2.50", b"110.38", LineKind.RESERVE_RELEASE, Decimal("2.50")),  # released to us
        (b"2.50", b"", b"105.38", LineKind.RESERVE_HOLD, Decimal("-2.50")),  # withheld
    ],
)
def test_a_reserve_adjustment_is_a_hold_or_a_release_by_its_sign(
    debit: bytes, credit: bytes, payout: bytes, kind: LineKind, net: Decimal
) -> None:
    row = b"DepositCorrection,Correction 17,,,,,EUR,,2.50,"
    data = REPORT.replace(
        row, b"ReserveAdjustment,Reserve 17,,,,,EUR," + debit + b"," + credit + b","
    )
    data = data.replace(b",110.38,", b"," + payout + b",")
    line = lines_of(parse(data))[9]
    assert (line.kind, line.gross, line.fee, line.net) == (kind, net, Decimal(0), net)


def test_a_payout_that_disagrees_with_the_batch_is_refused_naming_both() -> None:
    error = refusal(REPORT.replace(b",110.38,", b",110.48,"))
    assert error.row == 11
    assert error.reason == (
        "batch AcmeShopEUR:57:EUR: the MerchantPayout net debit is 110.48, but the batch's"
        " other rows net to 110.38 (credits minus debits)"
    )


def test_an_amount_that_is_not_a_number_is_refused_naming_column_and_value() -> None:
    error = refusal(REPORT.replace(b",98.20,", b",98,20,"))
    assert error.row == 2  # a comma in an amount shifts the columns
    error = refusal(REPORT.replace(b",98.20,", b",98.2O,"))
    assert (error.row, error.reason) == (2, "Net Credit (NC): '98.2O' is not an amount")


def test_an_unknown_time_zone_is_refused() -> None:
    error = refusal(REPORT.replace(b"2024-03-05 09:01:44,CET", b"2024-03-05 09:01:44,XYZ"))
    assert (error.row, error.reason) == (3, "TimeZone: 'XYZ' is not a time zone we know")


def test_a_latin1_file_is_refused_with_the_row() -> None:
    error = refusal(REPORT.replace(b"Correction 17", "Korrektur März".encode("latin-1")))
    assert error.row == 9
    assert "not UTF-8" in error.reason


def test_a_file_cut_mid_row_is_refused_as_truncated() -> None:
    error = refusal(REPORT[: REPORT.index(b"Payout batch 57")])
    assert error.row == 11
    assert "truncated" in error.reason
