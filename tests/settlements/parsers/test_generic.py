"""The generic CSV read through a column mapping, checked against figures worked out by hand.

files/generic_bnpl.csv: a BNPL provider's payout P-1, semicolon-separated, decimal commas,
unsigned amounts with a C/D column; header on line 1, rows on lines 2-6:

    2  Sale 1.234,50 C, fee 12,35      1234.50 - 12.35 = 1222.15
    3  Return 100,00 D                                 = -100.00
    4  Fee 5,00 D                                      =   -5.00
    5  Bonus 1,00 C (a word the table does not know)   =    1.00
    6  Payout 1.118,15 D          1222.15 - 100 - 5 + 1 = 1118.15 paid out
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from settlements.parsers import PARSERS, generic
from settlements.parsers.base import (
    ColumnMapping,
    LineKind,
    ParsedBatch,
    ParsedLine,
    ParseError,
    Record,
)

FILES = Path(__file__).resolve().parent.parent / "files"
BNPL = (FILES / "generic_bnpl.csv").read_bytes()
MAPPING = ColumnMapping(
    columns={
        "batch_key": "Payout ID",
        "line_key": "Transaction",
        "kind": "Type",
        "currency": "Currency",
        "gross": "Amount",
        "fee": "Fee",
        "direction": "D/C",
        "posted_at": "Date",
        "order_ref": "Order number",
        "payment_ref": "Capture ID",
        "extra.store": "Store",
    },
    date_format="%d.%m.%Y %H:%M",
    decimal_separator=",",
    sign_convention="direction",
    delimiter=";",
)
SIGNED = ColumnMapping(
    columns={"batch_key": "payout", "gross": "amount", "net": "net", "fee": "fee"},
    currency="GBP",
)


def parse(data: bytes, mapping: ColumnMapping | None = MAPPING) -> list[Record]:
    return list(generic.parse(io.BytesIO(data), options=mapping))


def lines_of(records: list[Record]) -> dict[int, ParsedLine]:
    return {r.row: r for r in records if isinstance(r, ParsedLine)}


def refusal(data: bytes, mapping: ColumnMapping | None = MAPPING) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse(data, mapping)
    return caught.value


def test_a_mapped_file_field_by_field() -> None:
    records = parse(BNPL)
    assert records[-1] == ParsedBatch(
        key="P-1",
        currency="EUR",
        payout_amount=Decimal("1118.15"),
        period_start=date(2024, 3, 4),
        period_end=date(2024, 3, 5),
    )
    lines = lines_of(records)
    assert lines[2] == ParsedLine(
        row=2,
        batch_key="P-1",
        line_key="T1",
        kind=LineKind.CHARGE,
        currency="EUR",
        gross=Decimal("1234.50"),
        fee=Decimal("-12.35"),
        net=Decimal("1222.15"),
        posted_at=datetime(2024, 3, 4, 15, 22, tzinfo=UTC),
        order_ref="1001",
        payment_ref="cap-1",
        raw="P-1;T1;Sale;EUR;1.234,50;12,35;C;04.03.2024 15:22;1001;cap-1;Berlin",
        extra={"store": "Berlin"},
    )
    assert {row: (line.kind, line.gross, line.fee, line.net) for row, line in lines.items()} == {
        2: (LineKind.CHARGE, Decimal("1234.50"), Decimal("-12.35"), Decimal("1222.15")),
        3: (LineKind.REFUND, Decimal("-100.00"), Decimal("0.00"), Decimal("-100.00")),
        4: (LineKind.FEE, Decimal(0), Decimal("-5.00"), Decimal("-5.00")),
        5: (LineKind.OTHER, Decimal("1.00"), Decimal(0), Decimal("1.00")),
        6: (LineKind.PAYOUT, Decimal("-1118.15"), Decimal(0), Decimal("-1118.15")),
    }
    assert PARSERS["generic"] is generic.parse


def test_signed_amounts_without_kind_or_line_key_columns() -> None:
    data = b"payout,amount,fee,net\nB1,10.00,-0.50,9.50\nB1,10.00,-0.50,9.50\nB1,-4.00,0,-4.00\n"
    lines = lines_of(parse(data, SIGNED))
    assert [(line.kind, line.currency, line.net) for line in lines.values()] == [
        (LineKind.CHARGE, "GBP", Decimal("9.50")),
        (LineKind.CHARGE, "GBP", Decimal("9.50")),
        (LineKind.REFUND, "GBP", Decimal("-4.00")),
    ]
    first, second, third = (line.line_key for line in lines.values())
    assert second == f"{first}#2"  # the same row twice is two lines
    assert len({first, third}) == 2
    assert [line.line_key for line in lines_of(parse(data, SIGNED)).values()] == [
        first,
        second,
        third,
    ]


def test_negated_amounts_are_turned_to_the_merchants_side() -> None:
    mapping = ColumnMapping(
        columns={"batch_key": "payout", "net": "net", "kind": "type"},
        currency="USD",
        sign_convention="negate",
    )
    lines = lines_of(parse(b"payout,type,net\nB1,charge,-25.00\nB1,refund,5.00\n", mapping))
    assert [(line.kind, line.gross, line.net) for line in lines.values()] == [
        (LineKind.CHARGE, Decimal("25.00"), Decimal("25.00")),
        (LineKind.REFUND, Decimal("-5.00"), Decimal("-5.00")),
    ]


@pytest.mark.parametrize(
    ("word", "kind"),
    [
        ("Sale", LineKind.CHARGE),
        ("Dispute Won", LineKind.CHARGEBACK_REVERSAL),
        ("chargeback", LineKind.CHARGEBACK),
        ("Marketplace-Fee", LineKind.COMMISSION),
        ("reserve_release", LineKind.RESERVE_RELEASE),
        ("Withdrawal", LineKind.PAYOUT),
        ("VAT", LineKind.TAX),
        ("something else", LineKind.OTHER),
    ],
)
def test_kind_words(word: str, kind: LineKind) -> None:
    assert generic.kind_of(word) is kind


def test_a_net_that_is_not_gross_plus_fee_is_refused() -> None:
    error = refusal(b"payout,amount,fee,net\nB1,10.00,-0.50,9.40\n", SIGNED)
    assert (error.row, error.reason) == (2, "net is 9.40 but gross 10.00 plus fee -0.50 is 9.50")


def test_an_amount_that_is_not_a_number_is_refused_naming_column_and_value() -> None:
    error = refusal(BNPL.replace(b";100,00;", b";100,0O;"))
    assert (error.row, error.reason) == (3, "Amount: '100,0O' is not an amount")


def test_a_date_not_in_the_mapped_format_is_refused() -> None:
    error = refusal(BNPL.replace(b"05.03.2024 23:00", b"2024-03-05 23:00"))
    assert (error.row, error.reason) == (
        4,
        "Date: '2024-03-05 23:00' does not match '%d.%m.%Y %H:%M'",
    )


def test_a_direction_that_is_neither_credit_nor_debit_is_refused() -> None:
    error = refusal(BNPL.replace(b";1,00;;C;", b";1,00;;X;"))
    assert (error.row, error.reason) == (5, "D/C: 'X' is neither credit nor debit")


def test_a_mapping_that_cannot_work_is_refused_before_reading() -> None:
    assert "column mapping" in refusal(BNPL, None).reason
    no_amount = ColumnMapping(columns={"batch_key": "Payout ID", "currency": "Currency"})
    assert refusal(BNPL, no_amount).reason == "column mapping: needs gross or net"
    typo = ColumnMapping(columns={"batch_key": "Payout ID", "gros": "Amount"}, currency="EUR")
    assert refusal(BNPL, typo).reason == "column mapping: unknown field(s) gros"
    absent = ColumnMapping(
        columns={"batch_key": "Payout", "net": "Amount"}, currency="EUR", delimiter=";"
    )
    assert (refusal(BNPL, absent).row, refusal(BNPL, absent).reason) == (
        1,
        "missing column(s): Payout",
    )


def test_a_latin1_file_is_refused_with_the_row() -> None:
    error = refusal(BNPL.replace(b";Return;", ";Rückgabe;".encode("latin-1")))
    assert error.row == 3
    assert "not UTF-8" in error.reason
