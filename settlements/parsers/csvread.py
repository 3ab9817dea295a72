"""Reading a provider's CSV a record at a time, with what `ParseError` and `ParsedLine.raw` need.

`csv.reader` over a `TextIOWrapper` alone loses two things: which physical lines made a record
(a quoted field may span lines), and where a decoding error is (the wrapper decodes 8 KiB at a
time, so the error surfaces lines before the bad byte's own line). `CsvSource` feeds the reader
through a generator that keeps the lines of the record being read and turns a
`UnicodeDecodeError` into the number of the line that holds the bad byte.

The helpers below it (decoding errors, column counts, header lookup, amounts, zone labels) are
shared by the provider modules; each raises `ParseError` with the row and the column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import IO, Final
from zoneinfo import ZoneInfo

from retailsync.core.money import exponent

from .base import ParseError

ZERO: Final = Decimal(0)
# Parsed date and time strings are cached per file (settlement files repeat them row after row);
# the cache is emptied past this many entries so memory stays flat however long the file is.
CACHE_LIMIT: Final = 20_000


class CsvSource:
    """The records of a UTF-8 CSV stream: iterate for the fields; `row` is the current record's
    first line (1-based), `raw` its text without the final line break. A field left open at the
    end of the file (a quote never closed) is a `ParseError` naming truncation."""

    def __init__(self, stream: IO[bytes], *, delimiter: str = ",") -> None:
        self._text = open_text(stream)
        self._lines: list[str] = []
        self._reader = csv.reader(self._feed(), delimiter=delimiter, strict=True)
        self.row = 0
        self.raw = ""
        self._last = "\n"

    def _feed(self) -> Iterator[str]:
        lines = self._lines
        try:
            for line in self._text:
                lines.append(line)
                yield line
        except UnicodeDecodeError as exc:
            raise decode_error(exc, self._reader.line_num) from None

    def __iter__(self) -> Iterator[list[str]]:
        reader = self._reader
        lines = self._lines
        consumed = 0
        try:
            for fields in reader:
                self.row = consumed + 1
                consumed = reader.line_num
                last = lines[-1]
                self._last = last
                raw = last if len(lines) == 1 else "".join(lines)
                lines.clear()
                self.raw = raw.rstrip("\r\n")
                yield fields
        except csv.Error as exc:
            end = (
                " (the file ends inside a quoted field: truncated?)" if "end of" in str(exc) else ""
            )
            raise ParseError(consumed + 1, f"not valid CSV: {exc}{end}") from None
        finally:
            if not self._text.closed:
                self._text.detach()  # the caller's stream stays open

    def bad_width(self, found: int, expected: int) -> ParseError:
        return bad_width(self.row, found, expected, self._last)


def bad_width(row: int, found: int, expected: int, line: str) -> ParseError:
    """A row with the wrong number of columns; `line` is its last physical line, with its line
    break if it has one (only a file's last line can lack it: then the file was cut short)."""
    if found < expected and not line.endswith(("\n", "\r")):
        return ParseError(
            row,
            f"the file ends mid-record: the last line has {found} of {expected} columns"
            " (truncated?)",
        )
    return ParseError(row, f"expected {expected} columns, found {found}")


def open_text(stream: IO[bytes]) -> io.TextIOWrapper:
    """The stream as UTF-8 text (a byte order mark skipped), decoded as it is read. Lines keep
    their line breaks (`newline=""`), as the csv module needs. Detach it when done, or closing
    it closes the caller's stream."""
    return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")


def decode_error(exc: UnicodeDecodeError, lines_read: int) -> ParseError:
    """The `ParseError` for bytes that are not UTF-8, on the line that holds them. The error's
    `object` is the chunk being decoded, which starts on the line after the `lines_read` already
    returned: count the line breaks before the bad byte."""
    bad = exc.object[exc.start : exc.start + 1].hex()
    line_no = lines_read + 1 + exc.object[: exc.start].count(b"\n")
    return ParseError(line_no, f"not UTF-8 text (byte 0x{bad}): {exc.reason}")


def normalize(name: str) -> str:
    """A header as the lookups spell it: no whitespace, lower case ("Transaction  Debit or
    Credit" and "TransactionDebitorCredit" are one column)."""
    return "".join(name.split()).lower()


def header_index(header: Sequence[str]) -> dict[str, int]:
    return {normalize(name): i for i, name in enumerate(header)}


def with_header(
    src: CsvSource, required: Sequence[str]
) -> tuple[Iterator[list[str]], list[str], dict[str, int]]:
    """The rows after a one-line header, the header, and its columns by name; refused when
    the file is empty or a required column is missing. Blank lines before the header (some
    exports start with one) are passed over."""
    records = iter(src)
    for header in records:
        if any(name.strip() for name in header):
            break
    else:
        raise ParseError(0, "the file is empty")
    index = header_index(header)
    require(index, required, src.row)
    return records, header, index


def require(index: dict[str, int], names: Sequence[str], row: int) -> None:
    missing = [name for name in names if normalize(name) not in index]
    if missing:
        raise ParseError(row, f"missing column(s): {', '.join(missing)}")


def decimal(text: str, row: int, column: str) -> Decimal:
    """A decimal amount in major units; blank is zero."""
    if not text:
        return ZERO
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ParseError(row, f"{column}: {text!r} is not an amount") from None
    if not value.is_finite():
        raise ParseError(row, f"{column}: {text!r} is not an amount")
    return value


def currency(text: str, row: int, column: str) -> str:
    code = text.strip().upper()
    try:
        exponent(code)
    except ValueError:
        raise ParseError(row, f"{column}: {text!r} is not a currency we know") from None
    return code


# Zone labels as settlement files write them, to the zone whose wall clock they name, and whether
# the label means standard time (fold=1 picks it in the hour that repeats when clocks go back).
_LABELS: Final[dict[str, tuple[str, int]]] = {
    "UTC": ("UTC", 0),
    "GMT": ("UTC", 0),
    "Z": ("UTC", 0),
    "CET": ("Europe/Amsterdam", 1),
    "CEST": ("Europe/Amsterdam", 0),
    "MET": ("Europe/Amsterdam", 1),
    "MEST": ("Europe/Amsterdam", 0),
    "WET": ("Europe/Lisbon", 1),
    "WEST": ("Europe/Lisbon", 0),
    "BST": ("Europe/London", 0),
    "EET": ("Europe/Helsinki", 1),
    "EEST": ("Europe/Helsinki", 0),
    "EST": ("America/New_York", 1),
    "EDT": ("America/New_York", 0),
    "CST": ("America/Chicago", 1),
    "CDT": ("America/Chicago", 0),
    "MST": ("America/Denver", 1),
    "MDT": ("America/Denver", 0),
    "PST": ("America/Los_Angeles", 1),
    "PDT": ("America/Los_Angeles", 0),
    "AEST": ("Australia/Sydney", 1),
    "AEDT": ("Australia/Sydney", 0),
    "NZST": ("Pacific/Auckland", 1),
    "NZDT": ("Pacific/Auckland", 0),
    "JST": ("Asia/Tokyo", 1),
    "SGT": ("Asia/Singapore", 1),
    "HKT": ("Asia/Hong_Kong", 1),
    "BRT": ("America/Sao_Paulo", 1),
}


def zone_label(label: str) -> tuple[tzinfo, int] | None:
    """A zone label (CET, PDT, UTC) or an IANA name to (zone, fold); None when unknown."""
    entry = _LABELS.get(label.strip().upper())
    if entry is not None:
        name, fold = entry
        return (UTC if name == "UTC" else ZoneInfo(name)), fold
    if "/" in label:
        try:
            return ZoneInfo(label.strip()), 0
        except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
            return None
    return None


def localize(naive: datetime, label: str) -> datetime | None:
    found = zone_label(label)
    if found is None:
        return None
    zone, fold = found
    return naive.replace(tzinfo=zone, fold=fold)
