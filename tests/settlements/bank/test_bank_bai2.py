"""BAI2 prior-day file: one group, a USD account and a JPY account, built on the shape of the
`bai2` package's example file (formats.md §8b). Figures worked out by hand in comments."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from settlements.parsers import bank_bai2
from settlements.parsers.base import LineKind, ParsedBatch, ParsedLine

from .helpers import CountingStream, fixture, parse, refused, split

D = Decimal
FILE = fixture("bai2_prior_day.bai2")


def test_accounts_become_batches_announced_before_their_lines() -> None:
    records = parse(bank_bai2.parse, FILE)
    assert [type(r) for r in records] == [ParsedBatch] + [ParsedLine] * 4 + [
        ParsedBatch,
        ParsedLine,
    ]
    batches, _ = split(records)
    usd, jpy = batches
    assert (usd.key, usd.account, usd.currency) == ("0004567890:2026-03-02", "0004567890", "USD")
    assert (usd.period_start, usd.period_end) == (date(2026, 3, 2), date(2026, 3, 2))
    # 010 2500000 and 015 4935015: two implied decimals.
    assert (usd.opening_balance, usd.closing_balance) == (D("25000.00"), D("49350.15"))
    # JPY has no minor unit: 500000 is ¥500,000.
    assert (jpy.key, jpy.currency) == ("0009876543:2026-03-02", "JPY")
    assert (jpy.opening_balance, jpy.closing_balance) == (D("500000"), D("620000"))


def test_details_are_signed_by_their_type_code() -> None:
    _, lines = split(parse(bank_bai2.parse, FILE))
    # 165 and 195 are credits, 475 (check paid) and 495 (outgoing wire) debits; the 890
    # non-monetary record on line 9 is no line. 25000.00 + 15234.40 + 10745.75 - 1250.00 - 380.00
    # = 49350.15, the closing ledger.
    assert [(line.row, line.net) for line in lines] == [
        (4, D("15234.40")),
        (5, D("10745.75")),
        (7, D("-1250.00")),
        (8, D("-380.00")),
        (12, D("120000")),
    ]
    assert [line.kind for line in lines] == [
        LineKind.DEPOSIT,
        LineKind.DEPOSIT,
        LineKind.WITHDRAWAL,
        LineKind.WITHDRAWAL,
        LineKind.DEPOSIT,
    ]
    for line in lines:
        assert line.gross == line.net and line.fee == 0 and line.order_ref == ""
        assert line.posted_at == datetime(2026, 3, 2, tzinfo=UTC)  # the group's as-of date
    assert [line.currency for line in lines] == ["USD"] * 4 + ["JPY"]
    assert [line.payment_ref for line in lines] == [
        "BR2603020001",
        "BR2603020002",
        "BR2603020003",
        "",
        "BR-JP-0001",
    ]
    assert [line.related_ref for line in lines] == ["STRIPE-77", "", "1042", "", ""]
    assert lines[2].extra == {"type_code": "475", "funds_type": "0"}


def test_a_blank_funds_type_and_an_empty_summary_item_as_natwest_and_svb_send_them() -> None:
    # Line 7's funds type left blank (availability unknown: Z); the USD account's summary
    # gains an empty fourth item after its closing ledger. Neither changes a figure.
    data = FILE.replace(b"16,475,125000,0,BR", b"16,475,125000,,BR").replace(
        b"015,4935015,,/", b"015,4935015,,,,,,/"
    )
    batches, lines = split(parse(bank_bai2.parse, data))
    assert batches[0].closing_balance == D("49350.15")
    assert (lines[2].row, lines[2].net, lines[2].payment_ref) == (7, D("-1250.00"), "BR2603020003")
    assert lines[2].extra == {"type_code": "475", "funds_type": "Z"}


def test_payout_references_and_continuations_reach_the_description() -> None:
    _, lines = split(parse(bank_bai2.parse, FILE))
    stripe, amazon = lines[:2]
    assert stripe.description == "STRIPE TRANSFER ST-PAYOUT po_1QxYz2AbCdEfGhIjKlMn"
    # The 88 record continues the 16's text; the V funds type carries a value date.
    assert amazon.description == "AMAZON.COM SERVICES LLC SETTLEMENT ID 11998877665 AMZN MKTP US"
    assert amazon.raw == (
        "16,195,1074575,V,260302,1400,BR2603020002,,AMAZON.COM SERVICES LLC\n"
        "88,SETTLEMENT ID 11998877665 AMZN MKTP US"
    )
    assert amazon.extra["value_date"] == "2026-03-02"


def test_line_keys_use_the_banks_reference_else_a_hash() -> None:
    _, lines = split(parse(bank_bai2.parse, FILE))
    assert lines[0].line_key == "0004567890:BR2603020001"
    assert lines[3].line_key.startswith("h:")
    again = split(parse(bank_bai2.parse, FILE))[1]
    assert [line.line_key for line in again] == [line.line_key for line in lines]


def test_account_control_total_and_record_count_are_checked() -> None:
    error = refused(bank_bai2.parse, FILE.replace(b"49,10196030,8/", b"49,10196031,8/"))
    assert error.row == 10
    assert error.reason == "account control total is 10196031, the records add up to 10196030"
    error = refused(bank_bai2.parse, FILE.replace(b"49,10196030,8/", b"49,10196030,9/"))
    assert (error.row, error.reason) == (10, "trailer says 9 records, the file has 8")


def test_group_and_file_trailers_are_checked() -> None:
    error = refused(bank_bai2.parse, FILE.replace(b"98,11436030,2,13/", b"98,11436030,3,13/"))
    assert (error.row, error.reason) == (14, "trailer says 3 accounts, the file has 2")
    error = refused(bank_bai2.parse, FILE.replace(b"99,11436030,1,15/", b"99,11436030,1,16/"))
    assert (error.row, error.reason) == (15, "trailer says 16 records, the file has 15")
    error = refused(bank_bai2.parse, FILE.replace(b"99,11436030,", b"99,11436031,"))
    assert (error.row, "file control total is 11436031" in error.reason) == (15, True)


def test_truncated_files_are_refused() -> None:
    lines = FILE.splitlines(keepends=True)
    error = refused(bank_bai2.parse, b"".join(lines[:-1]))
    assert error.row == 14 and "truncated" in error.reason and "99" in error.reason
    error = refused(bank_bai2.parse, b"".join(lines[:6]))  # ends inside the first account
    assert error.row == 6 and "truncated" in error.reason
    assert refused(bank_bai2.parse, b"").reason == "empty file"


def test_ledger_balances_that_do_not_add_up_are_refused() -> None:
    # One cent more on the closing ledger, and every control total raised to match it: only the
    # balance identity is left to notice. 25000.00 + 24350.15 = 49350.15, not 49350.16.
    data = (
        FILE.replace(b"015,4935015", b"015,4935016")
        .replace(b"49,10196030,", b"49,10196031,")
        .replace(b"98,11436030,", b"98,11436031,")
        .replace(b"99,11436030,", b"99,11436031,")
    )
    error = refused(bank_bai2.parse, data)
    assert error.row == 3  # the 03 record that states the balances
    assert "25000.00" in error.reason and "24350.15" in error.reason
    assert "49350.15" in error.reason and "49350.16" in error.reason


def test_malformed_records_are_refused_with_their_line() -> None:
    error = refused(bank_bai2.parse, FILE.replace(b"16,165,1523440,", b"16,165,15234.40,"))
    assert error.row == 4 and "malformed record" in error.reason
    error = refused(bank_bai2.parse, FILE.replace(b"16,475,", b"17,475,"))
    assert error.row == 7 and "not a BAI2 record" in error.reason
    error = refused(bank_bai2.parse, FILE.replace(b"16,475,", b"16,999,"))
    assert error.row == 7 and "999" in error.reason
    # 906 is a float figure, neither credit nor debit: a non-zero amount cannot be placed.
    error = refused(bank_bai2.parse, FILE.replace(b"16,475,", b"16,906,"))
    assert error.row == 7 and "does not say credit or debit" in error.reason
    error = refused(bank_bai2.parse, FILE.replace(b"49,1240000,3/", b"98,1240000,3/"))
    assert (error.row, error.reason) == (13, "record 98 where 16 or 49 is due")


def test_bytes_that_are_not_utf8_are_refused_with_their_line() -> None:
    error = refused(bank_bai2.parse, FILE.replace(b"OUTGOING WIRE", b"OUTGOING \xa7WIRE"))
    assert error.row == 8 and "not UTF-8" in error.reason


def test_the_file_is_read_a_record_at_a_time() -> None:
    detail = b"16,495,100,0,,,FEE/\n"
    count = 20000
    # Each detail takes 1.00 out: 0 - 20000 * 1.00 = -20000.00, the closing ledger. Control
    # total: 0 - 2000000 (the summary amounts) + 20000 * 100 (the details) = 0.
    data = (
        b"01,RSBANK,RETAILSYNC,260302,2300,F1,,,2/\n02,RETAILSYNC,BANK,1,260302,2300,USD,2/\n"
        b"03,1,USD,010,0,,,015,-2000000,,/\n" + detail * count
    )
    data += f"49,{count * 100 - 2000000},{count + 2}/\n".encode()
    data += f"98,{count * 100 - 2000000},1,{count + 4}/\n".encode()
    data += f"99,{count * 100 - 2000000},1,{count + 6}/\n".encode()
    stream = CountingStream(data)
    records = bank_bai2.parse(stream)  # type: ignore[arg-type]
    assert isinstance(next(records), ParsedBatch)
    assert isinstance(next(records), ParsedLine)
    assert stream.consumed < 1000 < len(data)
    assert sum(1 for _ in records) == count - 1  # and the whole file checks out
