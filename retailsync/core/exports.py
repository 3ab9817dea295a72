"""CSV and XLSX exports that a spreadsheet cannot turn into formulas.

A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (`=HYPERLINK(...)` in a customer's name is the
classic). Such cells get a leading apostrophe, OWASP's advice, so the sheet shows the text as
text. Numbers stay numbers: only `str` cells are touched, and XLSX exports carry native
Decimals and ints (django-import-export renders them natively for binary formats).

django-import-export's own `IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT` only strips a leading `=`
(so `+` and `@` pass) and turns every cell, numbers included, into text: not good enough. These
formats are the project's EXPORT_FORMATS, so every admin export, and any export written later
through `formula_safe_dataset`, is safe.
"""

from __future__ import annotations

import re
from typing import Any

import tablib
from import_export.formats import base_formats

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A signed number as text (CSV has nothing else) is read as a number, never as a formula.
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def formula_safe(value: Any) -> Any:
    """The cell as a spreadsheet should show it: text that would run as a formula is quoted."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_STARTS)
        and not PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def formula_safe_dataset(dataset: tablib.Dataset) -> tablib.Dataset:
    """A copy of `dataset` with every text cell made formula-safe (headers included)."""
    safe = tablib.Dataset(headers=[formula_safe(h) for h in dataset.headers or []])
    for row in dataset:
        safe.append([formula_safe(cell) for cell in row])
    return safe


class SafeCSV(base_formats.CSV):  # type: ignore[misc]  # import-export has no types
    def export_data(self, dataset: tablib.Dataset, **kwargs: Any) -> Any:
        return super().export_data(formula_safe_dataset(dataset), **kwargs)


class SafeXLSX(base_formats.XLSX):  # type: ignore[misc]  # import-export has no types
    def export_data(self, dataset: tablib.Dataset, **kwargs: Any) -> Any:
        return super().export_data(formula_safe_dataset(dataset), **kwargs)


# The admin renders numbers natively only for the formats in this list, matched by exact type:
# without it an XLSX export would carry amounts as text.
base_formats.BINARY_FORMATS.append(SafeXLSX)
