"""Bank CSV exports: our documented shape (oldest first, with a running balance) and a German
bank's own shape through a ColumnMapping (newest first, decimal comma, Soll/Haben). Figures
worked out by hand in comments."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from settlements.parsers import bank_csv
from settlements.parsers.base import ColumnMapping, LineKind

from .helpers import fixture, parse, refused, split

D = Decimal
FILE = fixture("bank_export.csv")
GERMAN = fixture("bank_export_de.csv")
IBAN = "NL91ABNA0417164300"
GERMAN_MAPPING = ColumnMapping(
    columns={
        "date": "Buchungstag",
        "amount": "Betrag",
        "currency": "Waehrung",
        "reference": "Referenz",
        "description": "Verwendungszweck",
        "direction": "Soll/Haben",
        "balance": "Saldo",
    },
    date_format="%d.%m.%Y",
    decimal_separator=",",
    sign_convention="direction",
    delimiter=";",
)


def test_documented_shape_gives_a_batch_per_account_and_day_after_the_lines() -> None:
    records = parse(bank_csv.parse, FILE)
    batches, lines = split(records)
    assert records[-2:] == batches
    day_1, day_2 = batches
    assert day_1.key == f"{IBAN}:2026-03-02:EUR"
    assert (day_1.account, day_1.currency) == (IBAN, "EUR")
    assert (day_1.period_start, day_1.period_end) == (date(2026, 3, 2), date(2026, 3, 2))
    # The first balance 11523.40 follows a 1523.40 credit: the day opened at 10000.00.
    assert (day_1.opening_balance, day_1.closing_balance) == (D("10000.00"), D("19975.55"))
    # 19975.55 - 400.00 - 15.00 - 15.00 = 19545.55
    assert (day_2.opening_balance, day_2.closing_balance) == (D("19975.55"), D("19545.55"))

    # The savings transfer's quoted description spans lines 5 and 6.
    assert [(line.row, line.net) for line in lines] == [
        (2, D("1523.40")),
        (3, D("8702.15")),
        (4, D("-250.00")),
        (5, D("-400.00")),
        (7, D("-15.00")),
        (8, D("-15.00")),
    ]
    assert [line.kind for line in lines] == [LineKind.DEPOSIT] * 2 + [LineKind.WITHDRAWAL] * 4
    for line in lines:
        assert line.gross == line.net and line.fee == 0 and line.currency == "EUR"
    assert lines[3].posted_at == datetime(2026, 3, 3, tzinfo=UTC)
    assert lines[0].payment_ref == "BR260302001"
    assert lines[0].description == "STRIPE PAYOUT po_1QxYz2AbCdEfGhIjKlMn"
    assert lines[1].description == "AMAZON EU SARL, SETTLEMENT 11998877665"
    assert lines[3].description == "TRANSFER TO SAVINGS\nMONTHLY"
    assert lines[3].raw == (
        '2026-03-03,-400.00,EUR,BR260303009,"TRANSFER TO SAVINGS\n'
        'MONTHLY",NL91ABNA0417164300,19575.55'
    )


def test_line_keys_are_hashes_that_tell_twins_apart_and_repeat_across_files() -> None:
    _, lines = split(parse(bank_csv.parse, FILE))
    keys = [line.line_key for line in lines]
    assert all(key.startswith("h:") for key in keys) and len(set(keys)) == 6
    # Only the last three rows again, in a later export: same keys for the same entries.
    rows = FILE.splitlines(keepends=True)
    later = rows[0] + b"".join(rows[4:])
    _, again = split(parse(bank_csv.parse, later))
    assert [line.line_key for line in again] == keys[3:]


def test_a_banks_own_shape_through_a_column_mapping() -> None:
    batches, lines = split(parse(bank_csv.parse, GERMAN, GERMAN_MAPPING))
    # "S" (Soll) is a debit, "H" (Haben) a credit; 1.000,00 is one thousand.
    assert [(line.row, line.net, line.kind) for line in lines] == [
        (2, D("-1000.00"), LineKind.WITHDRAWAL),
        (3, D("2045.20"), LineKind.DEPOSIT),
    ]
    assert lines[1].description == "STRIPE PAYOUT po_9ZzYyXxWwVv"
    assert lines[1].payment_ref == "REF-9"
    # Newest first: 13045.20 - 2045.20 = 11000.00 before 2 March; 12045.20 + 1000.00 =
    # 13045.20 before 3 March. No account column: the key is date and currency.
    march_3, march_2 = batches
    assert march_3.key == "2026-03-03:EUR" and march_3.account == ""
    assert (march_3.opening_balance, march_3.closing_balance) == (D("13045.20"), D("12045.20"))
    assert (march_2.opening_balance, march_2.closing_balance) == (D("11000.00"), D("13045.20"))


def test_signs_can_be_the_customers_side() -> None:
    mapping = ColumnMapping(
        columns={"date": "date", "amount": "amount", "description": "text"},
        sign_convention="negate",
        currency="USD",
    )
    data = b"date,amount,text\n2026-03-02,-120.00,ACH CREDIT AMAZON 11998877665\n"
    batches, lines = split(parse(bank_csv.parse, data, mapping))
    assert (lines[0].net, lines[0].currency, lines[0].kind) == (
        D("120.00"),
        "USD",
        LineKind.DEPOSIT,
    )
    assert batches[0].opening_balance is None and batches[0].closing_balance is None


def test_a_balance_that_does_not_follow_refuses_the_file() -> None:
    error = refused(bank_csv.parse, FILE.replace(b"19975.55\n", b"19975.56\n"))
    assert error.row == 4
    assert "20225.55 + -250.00 = 19975.55" in error.reason and "19975.56" in error.reason


def test_bad_rows_are_refused_with_their_line() -> None:
    error = refused(bank_csv.parse, FILE.replace(b"2026-03-02,-250.00", b"02/03/2026,-250.00"))
    assert error.row == 4 and "not in the form %Y-%m-%d" in error.reason
    error = refused(bank_csv.parse, FILE.replace(b"-250.00", b"-25O.00"))
    assert error.row == 4 and "not an amount" in error.reason
    error = refused(bank_csv.parse, FILE.replace(b"-250.00", b"-250.001"))
    assert error.row == 4 and "more decimals than EUR" in error.reason
    error = refused(bank_csv.parse, FILE.replace(b"-250.00,EUR", b"-250.00,EUX"))
    assert error.row == 4 and "unknown currency" in error.reason
    error = refused(bank_csv.parse, FILE.replace(b"CARD FEE,", b"CARD,FEE,", 1))
    assert error.row == 7 and "8 fields, the header has 7" in error.reason


def test_missing_columns_wrong_encoding_and_truncation_are_refused() -> None:
    error = refused(bank_csv.parse, FILE.replace(b"reference,", b"ref,", 1))
    assert error.row == 1 and "no 'reference' column" in error.reason
    error = refused(bank_csv.parse, FILE.replace(b"Office rent", b"B\xfcro rent"))
    assert error.row == 4 and "not UTF-8" in error.reason
    truncated = FILE[: FILE.index(b"MONTHLY")]  # inside the quoted description
    error = refused(bank_csv.parse, truncated)
    assert error.row == 5 and "not CSV" in error.reason
    assert refused(bank_csv.parse, b"").reason == "empty file: no header row"
