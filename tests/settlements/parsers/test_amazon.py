"""Amazon settlement V2 flat file, checked against figures worked out by hand.

files/amazon_v2_us.tsv: settlement 12345678901 in USD, header on line 1, summary on line 2
(total-amount 20.00), detail rows on lines 3-20:

    order 111-1234567-1234567, lines 3-10: principal 59.99, tax 2.40, withheld tax -2.40,
        commission -4.50, FBA fee -3.22 twice (two units), shipping 4.99, promotion -4.99 = 49.05
    its refund amzn1.adj.0001, lines 11-13: principal -10.00, commission back 1.50,
        refund commission -0.30                                                       = -8.80
    lines 14-17: storage fee -1.25, reserve held -20.00, previous reserve 15.00,
        advertising -7.50                                                             = -13.75
    lines 18-20: chargeback on 111-7654321-7654321 -15.00, inventory reimbursement 8.00,
        an amount type Amazon never documented 0.50                                  = -6.50
                                                     49.05 - 8.80 - 13.75 - 6.50 = 20.00

Fees and commissions (lines 6, 7, 8, 12, 13, 14) carry their amount in `fee`:
-4.50 - 3.22 - 3.22 + 1.50 - 0.30 - 1.25 = -10.99, so the gross is 20.00 + 10.99 = 30.99.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from settlements.parsers import PARSERS, amazon
from settlements.parsers.base import LineKind, ParsedBatch, ParsedLine, ParseError, Record

FILES = Path(__file__).resolve().parent.parent / "files"
US = (FILES / "amazon_v2_us.tsv").read_bytes()


def parse(data: bytes) -> list[Record]:
    return list(amazon.parse(io.BytesIO(data)))


def lines_of(records: list[Record]) -> dict[int, ParsedLine]:
    return {r.row: r for r in records if isinstance(r, ParsedLine)}


def refusal(data: bytes) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse(data)
    return caught.value


def replace_line(data: bytes, number: int, old: bytes, new: bytes) -> bytes:
    rows = data.split(b"\n")
    assert old in rows[number - 1]
    rows[number - 1] = rows[number - 1].replace(old, new)
    return b"\n".join(rows)


def test_the_summary_row_is_the_batch_announced_first() -> None:
    records = parse(US)
    assert records[0] == ParsedBatch(
        key="12345678901",
        currency="USD",
        payout_amount=Decimal("20.00"),
        period_start=date(2024, 3, 1),
        period_end=date(2024, 3, 15),
        deposit_date=date(2024, 3, 17),
    )
    assert PARSERS["amazon"] is amazon.parse


def test_every_component_is_a_line_with_its_kind_and_signed_amount() -> None:
    lines = lines_of(parse(US))
    assert sorted(lines) == list(range(3, 21))
    kinds = {row: line.kind for row, line in lines.items()}
    assert kinds == {
        3: LineKind.CHARGE,
        4: LineKind.TAX,
        5: LineKind.TAX,
        6: LineKind.COMMISSION,
        7: LineKind.FEE,
        8: LineKind.FEE,
        9: LineKind.SHIPPING,
        10: LineKind.PROMOTION,
        11: LineKind.REFUND,
        12: LineKind.COMMISSION,
        13: LineKind.COMMISSION,
        14: LineKind.FEE,
        15: LineKind.RESERVE_HOLD,
        16: LineKind.RESERVE_RELEASE,
        17: LineKind.ADVERTISING,
        18: LineKind.CHARGEBACK,
        19: LineKind.ADJUSTMENT,
        20: LineKind.OTHER,
    }
    assert {row: line.net for row, line in lines.items()} == {
        3: Decimal("59.99"),
        4: Decimal("2.40"),
        5: Decimal("-2.40"),
        6: Decimal("-4.50"),
        7: Decimal("-3.22"),
        8: Decimal("-3.22"),
        9: Decimal("4.99"),
        10: Decimal("-4.99"),
        11: Decimal("-10.00"),
        12: Decimal("1.50"),
        13: Decimal("-0.30"),
        14: Decimal("-1.25"),
        15: Decimal("-20.00"),
        16: Decimal("15.00"),
        17: Decimal("-7.50"),
        18: Decimal("-15.00"),
        19: Decimal("8.00"),
        20: Decimal("0.50"),
    }
    assert all(line.net == line.gross + line.fee for line in lines.values())
    assert sum(line.net for line in lines.values()) == Decimal("20.00")
    assert sum(line.fee for line in lines.values()) == Decimal("-10.99")
    assert sum(line.gross for line in lines.values()) == Decimal("30.99")
    assert {line.batch_key for line in lines.values()} == {"12345678901"}
    assert {line.currency for line in lines.values()} == {"USD"}


def test_a_principal_line_field_by_field() -> None:
    line = lines_of(parse(US))[3]
    assert line == ParsedLine(
        row=3,
        batch_key="12345678901",
        line_key=line.line_key,
        kind=LineKind.CHARGE,
        currency="USD",
        gross=Decimal("59.99"),
        fee=Decimal(0),
        net=Decimal("59.99"),
        posted_at=datetime(2024, 3, 2, 18, 4, 11, tzinfo=UTC),
        order_ref="111-1234567-1234567",
        payment_ref="",
        related_ref="",
        payment_method="",
        description="Principal",
        raw=US.split(b"\n")[2].decode(),
        extra={
            "transaction_type": "Order",
            "amount_type": "ItemPrice",
            "sku": "ABC-123",
            "marketplace": "Amazon.com",
            "fulfillment": "AFN",
        },
    )
    assert len(line.line_key) == 32
    assert line.raw.startswith("12345678901\t\t\t\t\t\tOrder\t111-1234567-1234567\t")


def test_refund_and_commission_lines_field_by_field() -> None:
    lines = lines_of(parse(US))
    refund, commission_back = lines[11], lines[12]
    assert (refund.kind, refund.gross, refund.fee, refund.net) == (
        LineKind.REFUND,
        Decimal("-10.00"),
        Decimal(0),
        Decimal("-10.00"),
    )
    assert refund.order_ref == "111-1234567-1234567"
    assert refund.posted_at == datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    assert refund.extra["adjustment_id"] == "amzn1.adj.0001"
    assert refund.extra["transaction_type"] == "Refund"
    # The commission Amazon gives back on a refund is a positive fee.
    assert (commission_back.gross, commission_back.fee, commission_back.net) == (
        Decimal(0),
        Decimal("1.50"),
        Decimal("1.50"),
    )
    storage = lines[14]
    assert storage.order_ref == ""
    assert storage.posted_at == datetime(2024, 3, 10, tzinfo=UTC)  # posted-date only
    assert storage.description == "Storage Fee"


def test_line_keys_are_unique_and_the_same_in_another_copy_of_the_settlement() -> None:
    keys = {row: line.line_key for row, line in lines_of(parse(US)).items()}
    assert len(set(keys.values())) == 18
    assert keys[7] != keys[8]  # the same fee for a second unit is a second line
    assert keys == {row: line.line_key for row, line in lines_of(parse(US)).items()}
    # A copy without the last row (its total adjusted) keys every other row the same way.
    shorter = b"\n".join(US.split(b"\n")[:19]) + b"\n"
    shorter = replace_line(shorter, 2, b"\t20.00\t", b"\t19.50\t")
    assert {row: line.line_key for row, line in lines_of(parse(shorter)).items()} == {
        row: key for row, key in keys.items() if row != 20
    }
    # The same components in another settlement are other lines.
    other = US.replace(b"12345678901\t", b"12345678902\t")
    assert not set(keys.values()) & {line.line_key for line in lines_of(parse(other)).values()}


def test_a_group_seen_again_later_in_the_file_keeps_its_keys_apart() -> None:
    rows = US.split(b"\n")
    again = [*rows[:20], rows[6], b""]  # line 21 repeats line 7 (a third FBA fee) after others
    data = replace_line(b"\n".join(again), 2, b"\t20.00\t", b"\t16.78\t")
    lines = lines_of(parse(data))
    assert len({line.line_key for line in lines.values()}) == 19
    assert lines[21].net == Decimal("-3.22")


def test_an_eu_file_with_decimal_commas_and_day_first_dates() -> None:
    """amazon_v2_de.tsv: 1.234,50 principal, -49,25 commission, -5,00 refund = 1.180,25."""
    records = parse((FILES / "amazon_v2_de.tsv").read_bytes())
    assert records[0] == ParsedBatch(
        key="98765432109",
        currency="EUR",
        payout_amount=Decimal("1180.25"),
        period_start=date(2024, 3, 1),
        period_end=date(2024, 3, 15),
        deposit_date=date(2024, 3, 17),
    )
    lines = lines_of(records)
    assert [(line.kind, line.gross, line.fee, line.net) for line in lines.values()] == [
        (LineKind.CHARGE, Decimal("1234.50"), Decimal(0), Decimal("1234.50")),
        (LineKind.COMMISSION, Decimal(0), Decimal("-49.25"), Decimal("-49.25")),
        (LineKind.REFUND, Decimal("-5.00"), Decimal(0), Decimal("-5.00")),
    ]
    assert lines[3].posted_at == datetime(2024, 3, 2, tzinfo=UTC)  # 02.03.2024
    assert lines[5].posted_at == datetime(2024, 3, 9, tzinfo=UTC)  # 09/03/24
    assert lines[3].extra["marketplace"] == "Amazon.de"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-02 18:04:11 UTC", datetime(2024, 3, 2, 18, 4, 11, tzinfo=UTC)),
        ("2003-10-03T16:00:00-07:00", datetime(2003, 10, 3, 23, 0, tzinfo=UTC)),
        ("2024-07-01 10:00:00 PDT", datetime(2024, 7, 1, 17, 0, tzinfo=UTC)),
        ("02.03.2024", datetime(2024, 3, 2, tzinfo=UTC)),
        ("09/06/25", datetime(2025, 6, 9, tzinfo=UTC)),
        ("2024/03/02 18:04:11 UTC", datetime(2024, 3, 2, 18, 4, 11, tzinfo=UTC)),  # Japan
    ],
)
def test_posted_times_in_every_format_amazon_writes(text: str, expected: datetime) -> None:
    data = replace_line(US, 3, b"2024-03-02 18:04:11 UTC", text.encode())
    data = replace_line(data, 3, b"\t2024-03-02\t", b"\t\t")
    assert lines_of(parse(data))[3].posted_at == expected


@pytest.mark.parametrize(
    ("transaction_type", "amount_type", "description", "kind"),
    [
        ("Order", "ItemPrice", "GiftWrap", LineKind.CHARGE),
        ("Refund", "ItemPrice", "Shipping", LineKind.SHIPPING),
        ("Refund", "ItemPrice", "ShippingTax", LineKind.TAX),
        ("Order", "ItemFees", "ShippingChargeback", LineKind.FEE),
        ("A-to-z Guarantee Claim", "ItemPrice", "Principal", LineKind.CHARGEBACK),
        ("other-transaction", "other-transaction", "Subscription Fee", LineKind.FEE),
        ("Liquidations", "LiquidationsProceeds", "Whatever", LineKind.OTHER),
    ],
)
def test_kinds_of_other_documented_pairs(
    transaction_type: str, amount_type: str, description: str, kind: LineKind
) -> None:
    assert amazon.kind_of(transaction_type, amount_type, description) is kind


def test_a_byte_that_is_not_utf8_is_refused_with_its_row() -> None:
    data = replace_line(US, 9, b"Amazon.com", "Amazön.com".encode("latin-1"))
    error = refusal(data)
    assert error.row == 9
    assert "not UTF-8" in error.reason


def test_a_utf16_file_is_refused_on_its_first_row() -> None:
    error = refusal(US.decode().encode("utf-16"))
    assert error.row == 1
    assert "not UTF-8" in error.reason


def test_a_bad_byte_deep_in_a_big_file_is_refused_on_its_own_row() -> None:
    rows = US.split(b"\n")
    body = [rows[19]] * 3000  # 3000 copies of line 20 (0.50 each): lines 3-3002
    body[2499] = body[2499].replace(b"Amazon.com", b"Amazon\xff.com")  # line 2502
    data = b"\n".join([rows[0], rows[1].replace(b"\t20.00\t", b"\t1500.00\t"), *body]) + b"\n"
    error = refusal(data)
    assert error.row == 2502


def test_an_amount_that_is_not_a_number_is_refused_naming_column_and_value() -> None:
    error = refusal(replace_line(US, 6, b"-4.50", b"-4.5O"))
    assert error.row == 6
    assert error.reason == "amount: '-4.5O' is not an amount"


def test_a_date_that_is_not_a_date_is_refused() -> None:
    error = refusal(replace_line(US, 11, b"2024-03-05 09:30:00 UTC", b"2024-13-05 09:30:00 UTC"))
    assert error.row == 11
    assert "posted-date-time: '2024-13-05 09:30:00 UTC'" in error.reason


def test_a_row_with_an_extra_column_is_refused() -> None:
    error = refusal(replace_line(US, 15, b"Current Reserve Amount", b"Current\tReserve Amount"))
    assert (error.row, error.reason) == (15, "expected 24 columns, found 25")


def test_rows_that_leave_their_empty_trailing_columns_out_are_read_whole() -> None:
    # The summary stops after `currency` (as formats.md's example writes it); the storage fee
    # on line 14 after `posted-date-time`, its order-item-code to promotion-id left out.
    rows = US.split(b"\n")
    rows[1] = b"\t".join(rows[1].split(b"\t")[:6])
    assert rows[13].split(b"\t")[13] == b"Storage Fee"
    rows[13] = b"\t".join(rows[13].split(b"\t")[:18])
    records = parse(b"\n".join(rows))
    assert records[0] == parse(US)[0]
    fee = lines_of(records)[14]
    assert (fee.kind, fee.gross, fee.fee, fee.net) == (
        LineKind.FEE,
        Decimal("0"),
        Decimal("-1.25"),
        Decimal("-1.25"),
    )
    assert fee.line_key == lines_of(parse(US))[14].line_key
    assert sum(line.net for line in lines_of(records).values()) == Decimal("20.00")


def test_a_file_cut_mid_row_is_refused_as_truncated() -> None:
    cut = US[: US.index(b"NewAmountType") + 3]  # line 20 stops in its amount-type
    error = refusal(cut)
    assert error.row == 20
    assert "truncated" in error.reason


def test_a_file_cut_after_a_row_fails_the_control_total() -> None:
    cut = b"\n".join(US.split(b"\n")[:19]) + b"\n"  # line 20 (0.50) is gone
    error = refusal(cut)
    assert error.row == 2
    assert error.reason == ("total-amount is 20.00 but the detail rows' amounts add up to 19.50")


def test_a_total_amount_that_disagrees_with_the_rows_is_refused_naming_both() -> None:
    error = refusal(replace_line(US, 2, b"\t20.00\t", b"\t20.01\t"))
    assert error.row == 2
    assert "20.01" in error.reason
    assert "20.00" in error.reason


def test_a_row_of_another_settlement_is_refused() -> None:
    error = refusal(replace_line(US, 12, b"12345678901\t", b"99999999999\t"))
    assert error.row == 12
    assert "settlement-id" in error.reason


def test_the_callers_stream_stays_open() -> None:
    stream = io.BytesIO(US)
    assert len(list(amazon.parse(stream))) == 19
    assert not stream.closed
