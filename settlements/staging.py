"""A file's lines on their way in: parsed into a temporary table first, kept only if the whole
file parses and its control totals agree.

On PostgreSQL the rows go in with `COPY` (what makes a million-row file load in seconds); on
SQLite (the demo) with `executemany`. Either way the temporary table is the connection's own,
outside any transaction, so the upload's progress commits as the file is read, and a worker
that dies takes its half-read file with it. `lines_commit` then moves the rows into
`SettlementLine` in one `INSERT … SELECT … ON CONFLICT DO NOTHING`: a line already known (the
same file again, or an overlapping one) is not added twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from django.db import connection, transaction

from .models import SettlementBatch, SettlementLine
from .parsers.base import ParsedLine, ParseError

STAGED = "settlements_staged"
FRESH = "settlements_fresh"
KEYS = "settlements_fresh_keys"
# In the order a staged row is written (`_copy_text`, `_values`).
COLUMNS = (
    "row",
    "kind",
    "gross",
    "fee",
    "net",
    "posted_at",
    "batch_key",
    "line_key",
    "currency",
    "order_ref",
    "payment_ref",
    "related_ref",
    "payment_method",
    "description",
    "raw",
)
# Amounts as the lines keep them (19 digits, 4 after the point): one too large for a line is
# refused by the COPY that stages it, not by the INSERT of the matched lines (loading.py).
_TYPES = {
    "row": "integer",
    "gross": "numeric(19, 4)",
    "fee": "numeric(19, 4)",
    "net": "numeric(19, 4)",
}
# What a new batch's staged line is written with (matching/_apply adds its link and verdict).
LINE_COLUMNS = tuple(c for c in COLUMNS if c != "batch_key")  # what a line keeps of them
FRESH_COLUMNS = ("batch_id", "provider", *LINE_COLUMNS, "manual", "note")


def staging_create() -> None:
    timestamp = "timestamptz" if connection.vendor == "postgresql" else "text"
    columns = ", ".join(
        f"{c} {_TYPES.get(c, timestamp if c == 'posted_at' else 'text')}" for c in COLUMNS
    )
    staging_drop()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {STAGED} (id integer, {columns})")


def staging_drop() -> None:
    fresh_drop()  # a view over the staged lines
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGED}")


# The short texts' lengths as SettlementLine keeps them (batch keys and currencies are checked
# where they are read).
_CUTS = {
    "line_key": 200,
    "order_ref": 120,
    "payment_ref": 200,
    "related_ref": 200,
    "payment_method": 40,
    "description": 500,
}


def _texts(line: ParsedLine) -> tuple[str, ...]:
    """A line's short texts, cut to their columns' lengths (batch_key to description)."""
    return (
        line.batch_key,
        line.line_key[: _CUTS["line_key"]],
        line.currency,
        line.order_ref[: _CUTS["order_ref"]],
        line.payment_ref[: _CUTS["payment_ref"]],
        line.related_ref[: _CUTS["related_ref"]],
        line.payment_method[: _CUTS["payment_method"]],
        line.description[: _CUTS["description"]],
    )


def _nul_refused(line: ParsedLine, texts: str) -> None:
    """No database text holds a NUL character: a file with one is refused at its row (the
    bank formats' reader refuses it as it decodes), whatever the database."""
    if "\x00" in texts or "\x00" in line.raw:
        raise ParseError(line.row, "NUL character in the text")


def _values(
    first_id: int, lines: Iterable[ParsedLine], written: list[int]
) -> Iterator[tuple[Any, ...]]:
    """Each line as the SQLite insert takes it (text for amounts and times)."""
    posted = connection.ops.adapt_datetimefield_value
    for n, line in enumerate(lines, first_id):
        written[0] += 1
        _nul_refused(line, "".join(_texts(line)))
        yield (
            n,
            line.row,
            line.kind.value,
            str(line.gross),
            str(line.fee),
            str(line.net),
            posted(line.posted_at) if line.posted_at else None,
            *_texts(line),
            line.raw,
        )


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


# Joined short texts up to this long are each within their column's length (payment_method's
# is looked at on its own).
_SHORT = min(length for name, length in _CUTS.items() if name != "payment_method")


def _copy_rows(first_id: int, lines: Iterable[ParsedLine], written: list[int]) -> Iterator[str]:
    """Each line as a row of `COPY`'s CSV format (tab-separated, `\\N` for NULL), formatted
    here: psycopg's `write_row` (a dumper per value) cost more than the parse itself at a
    million rows. The raw record (tab-separated itself, for Amazon) is always quoted; the
    other texts only when one holds a tab, quote, backslash or line break. Per row the common
    case is one f-string and three scans of it (a million rows: every call here counts)."""
    posted_at, posted = None, "\\N"
    n = first_id - 1
    for n, line in enumerate(lines, first_id):
        if line.posted_at is not posted_at:  # a file's lines come with few distinct times
            posted_at = line.posted_at
            posted = "\\N" if posted_at is None else posted_at.isoformat()
        texts = (
            f"{line.batch_key}\t{line.line_key}\t{line.currency}\t{line.order_ref}\t"
            f"{line.payment_ref}\t{line.related_ref}\t{line.payment_method}\t{line.description}"
        )
        raw = line.raw
        if (
            len(texts) > _SHORT
            or len(line.payment_method) > _CUTS["payment_method"]
            or texts.count("\t") != 7
            or '"' in texts
            or "\\" in texts
            or "\n" in texts
            or "\r" in texts
            or "\x00" in texts
        ):
            fields = _texts(line)
            texts = "\t".join(fields)
            _nul_refused(line, texts)
            texts = "\t".join(map(_quoted, fields))
        elif "\x00" in raw:
            _nul_refused(line, raw)
        raw = f'"{raw}"' if '"' not in raw else _quoted(raw)
        yield (
            f"{n}\t{line.row}\t{line.kind!s}\t{line.gross!s}\t{line.fee!s}\t{line.net!s}\t"
            f"{posted}\t{texts}\t{raw}\n"
        )
    written[0] = n - first_id + 1


_COPY_CHUNK = 2000  # rows per write to the COPY stream


def staging_write(first_id: int, lines: Iterable[ParsedLine]) -> int:
    """Stage lines as they come, numbered from `first_id`, in one statement; how many. A
    refusal raised while reading them leaves none of them staged (the savepoint)."""
    written = [0]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            names = ", ".join(f'"{c}"' for c in ("id", *COLUMNS))
            # The raw cursor's errors as Django's (a DataError for a value out of range).
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(
                    f"COPY {STAGED} ({names}) FROM STDIN (FORMAT csv, DELIMITER E'\\t', NULL '\\N')"
                ) as copy,
            ):
                texts = _copy_rows(first_id, lines, written)
                while chunk := list(islice(texts, _COPY_CHUNK)):
                    copy.write("".join(chunk))
        else:  # a few thousand rows at a time, however long the part
            names = ", ".join(f'"{c}"' for c in ("id", *COLUMNS))
            marks = ", ".join(["%s"] * (len(COLUMNS) + 1))
            pending = _values(first_id, lines, written)
            while rows := list(islice(pending, 5_000)):
                cursor.executemany(f"INSERT INTO {STAGED} ({names}) VALUES ({marks})", rows)
    return written[0]


def analyze(table: str) -> None:
    """Fresh statistics for a table just filled (PostgreSQL's autovacuum never sees a temporary
    table, and may be slow to see a million new lines): the planner then joins by hash."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")


def lines_commit(provider: str) -> int:
    """Move the staged lines into their batches; returns how many were new."""
    line = SettlementLine._meta.db_table
    batch = "settlements_settlementbatch"
    data = ", ".join(c if c != "row" else '"row"' for c in LINE_COLUMNS)
    staged = ", ".join(f"s.{c}" if c != "row" else 's."row"' for c in LINE_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {line} (batch_id, provider, {data},
                                outcome, rule, reason, manual, note)
            SELECT b.id, %s, {staged}, 'unmatched', '', '', false, ''
            FROM {STAGED} s JOIN {batch} b ON b.provider = %s AND b.key = s.batch_key
            WHERE true
            ON CONFLICT (provider, line_key) DO NOTHING
            """,
            [provider, provider],
        )
        return int(cursor.rowcount)


def fresh_create(batches: Sequence[SettlementBatch]) -> None:
    """New batches' lines as they are staged, with their batch (a view over the staging table
    and each batch's key): the matching rules run over them there, and each line is written
    once with its outcome instead of written, then rewritten (a million-row UPDATE). Copying
    them into a table of their own first cost 2.5 s at a million. A line whose key is known
    already (in another batch, or twice in the file) is left out as `lines_commit` leaves it
    out (matching._apply), and its batch judged again over the lines kept (matching._judge)."""
    data = ", ".join(f's."{c}"' for c in LINE_COLUMNS)
    with connection.cursor() as cursor:
        fresh_drop()
        cursor.execute(
            f"CREATE TEMPORARY TABLE {KEYS} (batch_key text PRIMARY KEY, batch_id bigint,"
            " provider varchar(20))"
        )
        cursor.executemany(
            f"INSERT INTO {KEYS} VALUES (%s, %s, %s)",
            [(b.key, b.pk, b.provider) for b in batches],
        )
        cursor.execute(
            f"""
            CREATE TEMPORARY VIEW {FRESH} AS
            SELECT s.id, k.batch_id, k.provider, {data}, false AS manual, '' AS note
            FROM {STAGED} s JOIN {KEYS} k ON k.batch_key = s.batch_key
            """
        )
        cursor.execute(f"ANALYZE {STAGED}")
        cursor.execute(f"ANALYZE {KEYS}")


def fresh_drop() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP VIEW IF EXISTS {FRESH}")
        cursor.execute(f"DROP TABLE IF EXISTS {KEYS}")
