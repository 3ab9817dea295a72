"""A set-based insert for the hot paths, where the ORM's per-instance machinery is the cost.

`bulk_create` builds a model instance and compiles every field of every row; at thousands of
orders a second that was most of the CPU of ingestion. `insert_returning` writes plain values in
one `INSERT … VALUES (…), (…) RETURNING id` statement. Values are given in Python form; each
column's own conversion runs only where the database needs one (JSON everywhere, every field on
SQLite, which the demo uses).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models


def _converter(field: models.Field) -> Callable[[Any], Any] | None:  # type: ignore[type-arg]
    if isinstance(field, models.JSONField):
        encoder = field.encoder or DjangoJSONEncoder
        return lambda value: json.dumps(value, cls=encoder)
    if connection.vendor == "postgresql":
        return None  # psycopg adapts str, int, bool, Decimal, aware datetime and None itself
    return lambda value: field.get_db_prep_save(value, connection)


# Rows per VALUES statement where arrays are not available (SQLite, the demo).
CHUNK_ROWS = 100


@dataclass(frozen=True, slots=True)
class _Statement:
    converters: list[Callable[[Any], Any] | None]
    sql: str  # PostgreSQL: the whole statement; elsewhere: INSERT … (cols) with {values} to fill
    width: int


_statements: dict[tuple[str, type[models.Model], tuple[str, ...]], _Statement] = {}


def _statement(model: type[models.Model], fields: Sequence[str]) -> _Statement:
    key = (connection.vendor, model, tuple(fields))
    found = _statements.get(key)
    if found is None:
        opts = model._meta
        columns: list[Any] = [opts.get_field(name) for name in fields]
        qn = connection.ops.quote_name
        head = f"INSERT INTO {qn(opts.db_table)} ({', '.join(qn(f.column) for f in columns)}) "
        tail = f" RETURNING {qn(opts.pk.column)}"
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in columns)
            sql = f"{head}SELECT * FROM unnest({arrays}){tail}"  # noqa: S608
        else:
            sql = head + "VALUES {values}" + tail
        found = _statements[key] = _Statement([_converter(f) for f in columns], sql, len(columns))
    return found


def insert_returning(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]
) -> list[int]:
    """Insert rows (values in `fields` order, foreign keys as ids); the new ids, in row order.

    On PostgreSQL the rows travel as one array per column through `unnest`: the statement text is
    short and the same every time, so psycopg parses it once, where a VALUES list of thousands of
    placeholders was parsed anew (and cost more CPU than the insert itself).
    """
    statement = _statement(model, fields)
    converted = [
        [
            value if convert is None or value is None else convert(value)
            for convert, value in zip(statement.converters, row, strict=True)
        ]
        for row in rows
    ]
    if not converted:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(statement.sql, [list(c) for c in zip(*converted, strict=True)])
            return [row[0] for row in cursor.fetchall()]
        ids: list[int] = []
        one = "(" + ", ".join(["%s"] * statement.width) + ")"
        for start in range(0, len(converted), CHUNK_ROWS):
            chunk = converted[start : start + CHUNK_ROWS]
            cursor.execute(
                statement.sql.format(values=", ".join([one] * len(chunk))),
                [value for row in chunk for value in row],
            )
            ids.extend(row[0] for row in cursor.fetchall())
        return ids
