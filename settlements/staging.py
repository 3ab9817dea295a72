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

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from django.db import connection, transaction

from .models import SettlementLine
from .parsers.base import ParsedLine

STAGED = "settlements_staged"
FRESH = "settlements_fresh"
COLUMNS = (
    "batch_key",
    "line_key",
    "row",
    "kind",
    "currency",
    "gross",
    "fee",
    "net",
    "posted_at",
    "order_ref",
    "payment_ref",
    "related_ref",
    "payment_method",
    "description",
    "raw",
)
_TYPES = {"row": "integer", "gross": "numeric", "fee": "numeric", "net": "numeric"}
# What a new batch's staged line is written with (matching/_apply adds its link and verdict).
FRESH_COLUMNS = ("batch_id", "provider", *COLUMNS[1:], "manual", "note")


def staging_create() -> None:
    timestamp = "timestamptz" if connection.vendor == "postgresql" else "text"
    columns = ", ".join(
        f"{c} {_TYPES.get(c, timestamp if c == 'posted_at' else 'text')}" for c in COLUMNS
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGED}")
        cursor.execute(f"CREATE TEMPORARY TABLE {STAGED} (id integer, {columns})")


def staging_drop() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGED}")


def _values(
    first_id: int, lines: Iterable[ParsedLine], written: list[int]
) -> Iterator[tuple[Any, ...]]:
    posted = connection.ops.adapt_datetimefield_value
    sqlite = connection.vendor != "postgresql"
    for n, line in enumerate(lines, first_id):
        written[0] += 1
        yield (
            n,
            line.batch_key,
            line.line_key[:200],
            line.row,
            line.kind.value,
            line.currency,
            str(line.gross) if sqlite else line.gross,
            str(line.fee) if sqlite else line.fee,
            str(line.net) if sqlite else line.net,
            posted(line.posted_at) if sqlite and line.posted_at else line.posted_at,
            line.order_ref[:120],
            line.payment_ref[:200],
            line.related_ref[:200],
            line.payment_method[:40],
            line.description[:500],
            line.raw,
        )


def staging_write(first_id: int, lines: Iterable[ParsedLine]) -> int:
    """Stage lines as they come, numbered from `first_id`, in one statement; how many. A
    refusal raised while reading them leaves none of them staged (the savepoint)."""
    names = ", ".join(("id", *COLUMNS))
    written = [0]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {STAGED} ({names}) FROM STDIN") as copy:
                for row in _values(first_id, lines, written):
                    copy.write_row(row)
        else:  # a few thousand rows at a time, however long the part
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
    data = ", ".join(c if c != "row" else '"row"' for c in COLUMNS[1:])
    staged = ", ".join(f"s.{c}" if c != "row" else 's."row"' for c in COLUMNS[1:])
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


def fresh_create(provider: str) -> dict[int, int]:
    """New batches' lines, staged with their batch: the matching rules run over them here,
    and each line is written once with its outcome instead of written, then rewritten (a
    million-row UPDATE). How many per batch. A line whose key is known already (in another
    batch, or twice in the file) is left out by the INSERT (`ON CONFLICT DO NOTHING`, as
    `lines_commit` does), and its batch judged again over the lines kept (matching._judge):
    looking for them here took a sort and an anti-join of every line, 10 of 11 s at a million."""
    data = ", ".join(f's."{c}"' for c in COLUMNS[1:])
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FRESH}")
        cursor.execute(
            f"""
            CREATE TEMPORARY TABLE {FRESH} AS
            SELECT s.id, b.id AS batch_id,
                   CAST(%s AS varchar(20)) AS provider, {data}, false AS manual, '' AS note
            FROM {STAGED} s
            JOIN settlements_settlementbatch b ON b.provider = %s AND b.key = s.batch_key
            """,
            [provider, provider],
        )
        cursor.execute(f"SELECT batch_id, COUNT(*) FROM {FRESH} GROUP BY batch_id")
        counts = {int(batch): int(n) for batch, n in cursor.fetchall()}
        cursor.execute(f"ANALYZE {FRESH}")
    return counts


def fresh_drop() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FRESH}")
