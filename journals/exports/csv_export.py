"""The journals as one CSV any ERP's journal import can map: a row per line with the entry's
reference, posting date, legal entity, account, debit, credit, currency, description, then one
column per dimension.

Finance opens these in a spreadsheet, so every text cell goes through the project's
formula-injection guard (`retailsync.core.exports.formula_safe`): a description such as
`=HYPERLINK(...)` arrives as text. Amounts are Decimals rounded to the currency's minor unit and
written as plain numbers, never touched by the guard.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import TextIO

from journals.erp.base import ErpJournal
from journals.erp.common import amount
from retailsync.core.exports import formula_safe

COLUMNS = (
    "reference",
    "posting_date",
    "legal_entity",
    "account",
    "debit",
    "credit",
    "currency",
    "description",
)


def dimension_names(journals: Sequence[ErpJournal]) -> list[str]:
    return sorted(
        {name for journal in journals for line in journal.lines for name in line.dimensions}
    )


def write_csv(
    journals: Sequence[ErpJournal], stream: TextIO, *, dimensions: Sequence[str] | None = None
) -> int:
    """Write the journals' lines to `stream`, row by row; the number of rows written.

    `dimensions` fixes the dimension columns (and their order); by default they are every
    dimension the journals use, alphabetically."""
    names = list(dimensions) if dimensions is not None else dimension_names(journals)
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow([formula_safe(column) for column in (*COLUMNS, *names)])
    rows = 0
    for journal in journals:
        for line in journal.lines:
            cells: list[object] = [
                journal.reference,
                journal.posting_date.isoformat(),
                journal.legal_entity,
                line.account,
                amount(line.debit, journal.currency),
                amount(line.credit, journal.currency),
                journal.currency,
                line.description or journal.description,
                *(line.dimensions.get(name, "") for name in names),
            ]
            writer.writerow([formula_safe(cell) for cell in cells])
            rows += 1
    return rows
