"""MT940: two daily statements in SWIFT envelopes (formats.md §8b'), CRLF line ends. Figures
worked out by hand in comments."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from settlements.parsers import bank_mt940
from settlements.parsers.base import LineKind, ParsedBatch, ParsedLine

from .helpers import CountingStream, fixture, parse, refused, split

D = Decimal
FILE = fixture("mt940_two_days.sta")
IBAN = "NL91ABNA0417164300"


def test_each_statement_is_a_batch_announced_before_its_lines() -> None:
    records = parse(bank_mt940.parse, FILE)
    kinds = [type(r) for r in records]
    assert kinds == [ParsedBatch] + [ParsedLine] * 5 + [ParsedBatch] + [ParsedLine] * 3
    first, second = split(records)[0]
    assert first.key == f"{IBAN}:00061/001:2026-03-02"  # account, :28C:, closing date
    assert (first.account, first.currency) == (IBAN, "EUR")
    assert (first.period_start, first.period_end) == (date(2026, 3, 1), date(2026, 3, 2))
    # 10000.00 + 1523.40 + 8702.15 - 250.00 - 64.90 + 12.50 = 19923.15
    assert (first.opening_balance, first.closing_balance) == (D("10000.00"), D("19923.15"))
    # 19923.15 - 20000.00 - 15.00 - 15.00 = -106.85: a debit closing balance (:62F:D...).
    assert second.key == f"{IBAN}:00062/001:2026-03-03"
    assert (second.opening_balance, second.closing_balance) == (D("19923.15"), D("-106.85"))


def test_entries_are_signed_by_their_mark_reversals_included() -> None:
    _, lines = split(parse(bank_mt940.parse, FILE))
    assert [(line.row, line.extra["mark"], line.net) for line in lines] == [
        (6, "C", D("1523.40")),
        (10, "C", D("8702.15")),
        (12, "D", D("-250.00")),
        (14, "RC", D("-64.90")),  # reversal of a credit: money leaves
        (16, "RD", D("12.50")),  # reversal of a debit: money comes back
        (27, "D", D("-20000.00")),
        (29, "D", D("-15.00")),
        (31, "D", D("-15.00")),
    ]
    assert [line.kind for line in lines] == [
        LineKind.DEPOSIT,
        LineKind.DEPOSIT,
        LineKind.WITHDRAWAL,
        LineKind.WITHDRAWAL,
        LineKind.DEPOSIT,
        LineKind.WITHDRAWAL,
        LineKind.WITHDRAWAL,
        LineKind.WITHDRAWAL,
    ]
    for line in lines:
        assert line.gross == line.net and line.fee == 0 and line.currency == "EUR"
    assert lines[0].posted_at == datetime(2026, 3, 2, tzinfo=UTC)  # entry date 0302
    assert lines[5].posted_at == datetime(2026, 3, 3, tzinfo=UTC)


def test_references_and_remittance_text() -> None:
    _, lines = split(parse(bank_mt940.parse, FILE))
    stripe, amazon, rent = lines[:3]
    assert (stripe.payment_ref, stripe.related_ref) == ("BR260302001", "STRIPE-E2E-7731")
    # The bank wrapped :86: at 65 characters in the middle of the payout id: joined back whole.
    assert stripe.description == (
        "STRIPE PAYMENTS EUROPE LTD DUBLIN IE STRIPE PAYOUT po_1QxYz2AbCdEfGhIjKlMn RETAILSYNC BV"
    )
    assert stripe.raw == (
        ":61:2603020302C1523,40NTRFSTRIPE-E2E-7731//BR260302001\n"
        "/OCMT/EUR1523,40/\n"
        ":86:STRIPE PAYMENTS EUROPE LTD DUBLIN IE STRIPE PAYOUT po_1QxYz2AbCdE\n"
        "fGhIjKlMn RETAILSYNC BV"
    )
    assert stripe.extra["supplementary"] == "/OCMT/EUR1523,40/"
    # NONREF is no reference.
    assert (amazon.payment_ref, amazon.related_ref) == ("BR260302002", "")
    assert amazon.description == "AMAZON EU SARL SETTLEMENT 11998877665 MARKETPLACE AMAZON.DE"
    assert (rent.payment_ref, rent.related_ref) == ("", "RENT-2026-03")
    # The statement-level :86: after :62F: belongs to no entry.
    assert lines[4].description == "REVERSAL OF FEE DEBIT"


def test_a_first_remittance_line_wrapped_at_65_with_its_tag_is_joined_whole() -> None:
    # ING and Rabobank count ":86:" in the first line's 65: 61 characters of text, cut mid-id.
    text = (
        "STRIPE PAYMENTS EUROPE LTD DUBLIN IE STRIPE PAYOUT po_1QxYz2AbCdEfGhIjKlMn RETAILSYNC BV"
    )
    ing = FILE.replace(
        b":86:STRIPE PAYMENTS EUROPE LTD DUBLIN IE STRIPE PAYOUT po_1QxYz2AbCdE\r\nfGhIjKlMn",
        f":86:{text[:61]}\r\n{text[61:]}".encode().removesuffix(b" RETAILSYNC BV"),
    )
    assert len(ing.split(b"\r\n")[7]) == 65 and ing != FILE
    _, lines = split(parse(bank_mt940.parse, ing))
    assert lines[0].description == text


def test_line_keys_use_the_banks_reference_else_a_hash_with_a_counter() -> None:
    _, lines = split(parse(bank_mt940.parse, FILE))
    assert lines[0].line_key == f"{IBAN}:BR260302001"
    fee_1, fee_2 = lines[6:]
    assert fee_1.line_key.startswith("h:") and fee_1.line_key != fee_2.line_key
    again = split(parse(bank_mt940.parse, FILE))[1]
    assert [line.line_key for line in again] == [line.line_key for line in lines]


def test_a_banks_header_lines_before_the_first_statement_are_skipped() -> None:
    batches, lines = split(parse(bank_mt940.parse, b"ABNANL2A\r\n940\r\nABNANL2A\r\n" + FILE))
    assert len(batches) == 2 and lines[0].row == 9


def test_statement_that_does_not_add_up_is_refused_naming_both_figures() -> None:
    error = refused(
        bank_mt940.parse, FILE.replace(b":62F:C260302EUR19923,15", b":62F:C260302EUR19923,16")
    )
    assert error.row == 18  # the :62F: line
    assert "10000.00" in error.reason and "9923.15" in error.reason
    assert "19923.15" in error.reason and "19923.16" in error.reason


def test_truncated_statement_is_refused() -> None:
    cut = FILE.index(b":62F:D260303")
    error = refused(bank_mt940.parse, FILE[:cut])
    assert error.row == 32 and "truncated" in error.reason and ":62F:" in error.reason
    assert refused(bank_mt940.parse, b"").row == 0


def test_malformed_tags_are_refused_with_their_line() -> None:
    error = refused(
        bank_mt940.parse, FILE.replace(b":61:2603020302C1523,40", b":61:2603020302X1523,40")
    )
    assert error.row == 6 and "malformed :61:" in error.reason
    assert "object at 0x" not in error.reason and "Unable to parse it from" in error.reason
    error = refused(bank_mt940.parse, FILE.replace(b":60F:C260302EUR", b":60F:C261302EUR"))
    assert error.row == 26 and "malformed :60F:" in error.reason
    error = refused(bank_mt940.parse, FILE.replace(b":28C:00062/001", b":60F:C260302EUR1,00"))
    assert error.row == 26 and ":60F: appears twice" in error.reason
    error = refused(bank_mt940.parse, FILE.replace(b"C1523,40NTRF", b"C1523,401NTRF"))
    assert error.row == 6 and "more decimals than EUR" in error.reason
    error = refused(bank_mt940.parse, FILE.replace(b"EUR10000,00", b"XYZ10000,00"))
    assert error.row == 5 and "unknown currency" in error.reason


def test_bytes_that_are_not_utf8_are_refused_with_their_line() -> None:
    error = refused(bank_mt940.parse, FILE.replace(b"TRANSFER TO SAVINGS", b"\xdcBERWEISUNG"))
    assert error.row == 28 and "not UTF-8" in error.reason


def test_the_file_is_read_a_statement_at_a_time() -> None:
    statement = (
        b":20:S\n:25:123\n:28C:1\n:60F:C260301EUR0,00\n"
        b":61:2603020302C1,00NTRFNONREF//B1\n:86:IN\n:62F:C260302EUR1,00\n"
    )
    count = 3000
    data = b"".join(statement.replace(b":28C:1", f":28C:{n}".encode()) for n in range(count))
    stream = CountingStream(data)
    records = bank_mt940.parse(stream)  # type: ignore[arg-type]
    assert isinstance(next(records), ParsedBatch)
    assert stream.consumed < 2 * len(statement) < len(data)
    assert sum(1 for _ in records) == count * 2 - 1
