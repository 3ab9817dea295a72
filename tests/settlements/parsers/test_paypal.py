"""PayPal STL settlement report, checked against figures worked out by hand.

files/paypal_stl.csv: RH, FH, SH (account ABCDEFGHIJKLM, 2016-03-07, -0800), CH on lines 1-4;
SB rows on lines 5-13, in minor units with CR/DR:

    5  T0006 CR 10000 USD, fee DR 320          100.00 - 3.20  =  96.80
    6  T0006 CR 10000 JPY, fee DR 390           ¥10000 - ¥390 =  ¥9610 (JPY has no decimals)
    7  T1107 DR 2000 USD, fee CR 58   refund   -20.00 + 0.58  = -19.42
    8  T0400 DR 5000 USD              withdrawal                 -50.00
    9  T1201 DR 3000 USD, fee DR 2000 chargeback -30.00 - 20.00 = -50.00
    10 T0104 DR 150 USD               a fee                       -1.50
    11 T1503 DR 1000 USD              hold                       -10.00
    12 T1105 CR 500 USD               hold released                5.00
    13 T0200 DR 100 USD               currency conversion (other) -1.00
                                                         USD net  -30.12

SF USD: gross credits 10000 + 500 = 10500, gross debits 2000 + 5000 + 3000 + 150 + 1000 + 100
= 11250, fee credits 58, fee debits 320 + 2000 = 2320; balance 1000.00 → 1000.00 - 30.12 =
969.88. SF JPY: 10000, 0, 0, 390; balance 0 → 9610. SC 9 (line 16), RF twice, RC 9, FF 9.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from settlements.parsers import PARSERS, paypal
from settlements.parsers.base import LineKind, ParsedBatch, ParsedLine, ParseError, Record

FILES = Path(__file__).resolve().parent.parent / "files"
STL = (FILES / "paypal_stl.csv").read_bytes()
USD = "ABCDEFGHIJKLM:2016-03-07:USD"
JPY = "ABCDEFGHIJKLM:2016-03-07:JPY"


def parse(data: bytes) -> list[Record]:
    return list(paypal.parse(io.BytesIO(data)))


def lines_of(records: list[Record]) -> dict[int, ParsedLine]:
    return {r.row: r for r in records if isinstance(r, ParsedLine)}


def refusal(data: bytes) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse(data)
    return caught.value


def without(data: bytes, record: bytes) -> bytes:
    return b"".join(line for line in data.splitlines(keepends=True) if not line.startswith(record))


def test_a_batch_per_currency_of_the_section_with_its_balances() -> None:
    records = parse(STL)
    batches = [r for r in records if isinstance(r, ParsedBatch)]
    assert batches == [
        ParsedBatch(
            key=USD,
            currency="USD",
            payout_amount=None,
            period_start=date(2016, 3, 7),
            period_end=date(2016, 3, 7),
            opening_balance=Decimal("1000.00"),
            closing_balance=Decimal("969.88"),
            account="ABCDEFGHIJKLM",
        ),
        ParsedBatch(
            key=JPY,
            currency="JPY",
            payout_amount=None,
            period_start=date(2016, 3, 7),
            period_end=date(2016, 3, 7),
            opening_balance=Decimal(0),
            closing_balance=Decimal(9610),
            account="ABCDEFGHIJKLM",
        ),
    ]
    assert records.index(batches[0]) == 9  # announced at its SF, after the nine lines
    assert PARSERS["paypal"] is paypal.parse


def test_a_payment_field_by_field() -> None:
    line = lines_of(parse(STL))[5]
    assert line == ParsedLine(
        row=5,
        batch_key=USD,
        line_key="5TY12345AB678901C",
        kind=LineKind.CHARGE,
        currency="USD",
        gross=Decimal("100.00"),
        fee=Decimal("-3.20"),
        net=Decimal("96.80"),
        posted_at=datetime(2016, 3, 7, 18, 15, 2, tzinfo=UTC),  # 10:15:02 -0800
        order_ref="1001",
        payment_ref="5TY12345AB678901C",
        related_ref="",
        payment_method="paypal",
        description="T0006",
        raw=STL.decode().splitlines()[4],
        extra={"initiated_at": "2016/03/07 10:15:02 -0800"},
    )


def test_kinds_and_signs_of_every_row_with_jpy_in_whole_units() -> None:
    lines = lines_of(parse(STL))
    assert {row: (line.kind, line.gross, line.fee, line.net) for row, line in lines.items()} == {
        5: (LineKind.CHARGE, Decimal("100.00"), Decimal("-3.20"), Decimal("96.80")),
        6: (LineKind.CHARGE, Decimal(10000), Decimal(-390), Decimal(9610)),
        7: (LineKind.REFUND, Decimal("-20.00"), Decimal("0.58"), Decimal("-19.42")),
        8: (LineKind.PAYOUT, Decimal("-50.00"), Decimal(0), Decimal("-50.00")),
        9: (LineKind.CHARGEBACK, Decimal("-30.00"), Decimal("-20.00"), Decimal("-50.00")),
        10: (LineKind.FEE, Decimal(0), Decimal("-1.50"), Decimal("-1.50")),
        11: (LineKind.RESERVE_HOLD, Decimal("-10.00"), Decimal(0), Decimal("-10.00")),
        12: (LineKind.RESERVE_RELEASE, Decimal("5.00"), Decimal(0), Decimal("5.00")),
        13: (LineKind.OTHER, Decimal("-1.00"), Decimal(0), Decimal("-1.00")),
    }
    assert str(lines[6].net) == "9610"  # not 96.10
    usd = [line for line in lines.values() if line.currency == "USD"]
    assert sum(line.net for line in usd) == Decimal("-30.12")
    refund = lines[7]
    assert (refund.order_ref, refund.related_ref) == ("1001", "5TY12345AB678901C")
    assert refund.extra == {
        "reference_id_type": "TXN",
        "custom": "refund, partial",
        "initiated_at": "2016/03/07 16:00:00 -0800",
    }
    assert lines[6].batch_key == JPY


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("T0000", LineKind.CHARGE),
        ("T0007", LineKind.CHARGE),
        ("T1106", LineKind.REFUND),
        ("T1108", LineKind.FEE),  # fee reversal
        ("T1109", LineKind.FEE),  # fee refund
        ("T1110", LineKind.RESERVE_HOLD),
        ("T1202", LineKind.CHARGEBACK_REVERSAL),
        ("T0402", LineKind.PAYOUT),
        ("T2001", LineKind.OTHER),
        ("", LineKind.OTHER),
    ],
)
def test_t_codes_by_group(code: str, kind: LineKind) -> None:
    assert paypal.kind_of(code) is kind


def test_the_old_column_names_without_spaces_are_read_too() -> None:
    old = STL.replace(b'"Transaction ID"', b'"TransactionID"').replace(
        b'"Transaction  Debit or Credit"', b'"TransactionDebitOrCredit"'
    )
    assert lines_of(parse(old))[5].gross == Decimal("100.00")


@pytest.mark.parametrize(("record", "missing"), [(b'"RC"', "RC"), (b'"RF"', "RF")])
def test_a_file_without_its_report_trailer_is_refused_as_truncated(
    record: bytes, missing: str
) -> None:
    error = refusal(without(STL, record))
    assert missing in error.reason
    assert "truncated" in error.reason


def test_a_file_cut_inside_its_section_is_refused_as_truncated() -> None:
    cut = b"".join(STL.splitlines(keepends=True)[:15])  # up to the USD SF: no JPY SF, no SC
    error = refusal(cut)
    assert error.row == 16
    assert "truncated" in error.reason


def test_a_section_without_the_footer_of_a_currency_it_used_is_refused() -> None:
    error = refusal(without(STL, b'"SF","JPY"'))
    assert error.row == 15  # the SC, one line earlier now
    assert error.reason == "no section footer (SF) for JPY"


def test_a_file_without_its_file_footer_is_refused() -> None:
    error = refusal(without(STL, b'"FF"'))
    assert "FF" in error.reason


def test_record_counts_that_disagree_with_the_rows_are_refused_naming_both() -> None:
    error = refusal(STL.replace(b'"SC",9', b'"SC",8'))
    assert (error.row, error.reason) == (
        16,
        "SC says 8 transactions in the section, but 9 SB rows were read",
    )
    error = refusal(STL.replace(b'"RC",9', b'"RC",10'))
    assert error.row == 19
    assert "RC says 10" in error.reason
    assert "9 SB rows" in error.reason


def test_footer_totals_that_disagree_with_the_rows_are_refused_naming_both() -> None:
    error = refusal(
        STL.replace(b'"SF","USD",10500,11250,58,2320', b'"SF","USD",10500,11250,58,2330')
    )
    assert error.row == 14
    assert error.reason == (
        "SF for USD: fee debits total 2330 (minor units), but the rows add up to 2320"
    )


def test_an_amount_with_a_decimal_point_is_refused() -> None:
    error = refusal(STL.replace(b'"DR",2000,"USD"', b'"DR",20.00,"USD"'))
    assert (error.row, error.reason) == (
        7,
        "Gross Transaction Amount: '20.00' is not an amount in minor units",
    )


def test_a_direction_that_is_neither_cr_nor_dr_is_refused() -> None:
    error = refusal(STL.replace(b'"CR",500,', b'"XX",500,'))
    assert error.row == 12
    assert "neither CR nor DR" in error.reason


def test_an_old_utf16_file_is_refused_on_its_first_row() -> None:
    error = refusal(STL.decode().encode("utf-16"))
    assert error.row == 1
    assert "not UTF-8" in error.reason


def test_a_file_with_a_byte_order_mark_is_read() -> None:
    assert len(lines_of(parse(b"\xef\xbb\xbf" + STL))) == 9
