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
from functools import cache
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models
from django.db.models import F, Lookup


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
    head: str  # INSERT INTO t (columns)
    arrays: str  # SELECT * FROM unnest(%s::type[], …)
    tail: str  # ON CONFLICT … RETURNING …
    width: int


_statements: dict[tuple[Any, ...], _Statement] = {}
# Up to this many rows go as VALUES (short text, cached by psycopg, cheapest for the server);
# more go as arrays, whose text stays the same however many rows there are.
VALUES_ROWS = 20


def _statement(
    model: type[models.Model],
    fields: Sequence[str],
    skip_conflicts: Sequence[str],
    returning: tuple[str, ...],
) -> _Statement:
    key = (connection.vendor, model, tuple(fields), tuple(skip_conflicts), returning)
    found = _statements.get(key)
    if found is None:
        opts = model._meta
        columns: list[Any] = [opts.get_field(name) for name in fields]
        qn = connection.ops.quote_name

        def names(field_names: Sequence[str]) -> str:
            return ", ".join(qn(opts.get_field(f).column) for f in field_names)  # type: ignore[union-attr,arg-type]

        conflict = f" ON CONFLICT ({names(skip_conflicts)}) DO NOTHING" if skip_conflicts else ""
        types = ", ".join(f"%s::{f.db_type(connection)}[]" for f in columns)
        found = _statements[key] = _Statement(
            converters=[_converter(f) for f in columns],
            head=f"INSERT INTO {qn(opts.db_table)} ({names(fields)}) ",
            arrays=f"SELECT * FROM unnest({types})",  # noqa: S608
            tail=f"{conflict} RETURNING {names(returning)}",
            width=len(columns),
        )
    return found


def _insert(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    skip_conflicts: Sequence[str],
    returning: tuple[str, ...],
) -> list[tuple[Any, ...]]:
    statement = _statement(model, fields, skip_conflicts, returning)
    converted = [
        [
            value if convert is None or value is None else convert(value)
            for convert, value in zip(statement.converters, row, strict=True)
        ]
        for row in rows
    ]
    out: list[tuple[Any, ...]] = []
    if not converted:
        return out
    one = "(" + ", ".join(["%s"] * statement.width) + ")"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(converted) > VALUES_ROWS:
            cursor.execute(
                statement.head + statement.arrays + statement.tail,
                [list(c) for c in zip(*converted, strict=True)],
            )
            return [tuple(row) for row in cursor.fetchall()]
        for start in range(0, len(converted), CHUNK_ROWS):
            chunk = converted[start : start + CHUNK_ROWS]
            cursor.execute(
                statement.head + "VALUES " + ", ".join([one] * len(chunk)) + statement.tail,
                [value for row in chunk for value in row],
            )
            out.extend(tuple(row) for row in cursor.fetchall())
    return out


def insert_returning(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]
) -> list[int]:
    """Insert rows (values in `fields` order, foreign keys as ids); the new ids, in row order.

    Many rows travel as one array per column through `unnest` (PostgreSQL): the statement text
    is short and the same every time, so psycopg parses it once, where a VALUES list of
    thousands of placeholders was parsed anew and cost more CPU than the insert itself.
    """
    return [row[0] for row in _insert(model, fields, rows, (), (model._meta.pk.name,))]


def insert_new(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    unique: Sequence[str],
    key: str,
) -> dict[Any, int]:
    """Insert the rows whose `unique` columns are not taken yet; {key value: new id} for those.

    A row taken by a transaction still in flight waits for it, then is skipped: no error, no
    savepoint, no look beforehand.
    """
    return {
        row[1]: row[0] for row in _insert(model, fields, rows, unique, (model._meta.pk.name, key))
    }


def update_rows(model: type[models.Model], fields: Sequence[str], objs: Sequence[Any]) -> None:
    """Write these fields of these saved instances in one statement.

    `bulk_update` compiles a CASE WHEN branch per row and field; on PostgreSQL the new values go
    as arrays instead (`UPDATE … FROM unnest(…)`), a statement whose text does not grow.
    """
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objs, fields)
        return
    opts = model._meta
    columns: list[Any] = [opts.get_field(name) for name in fields]
    qn = connection.ops.quote_name
    pk = opts.pk
    assert pk is not None
    types = ", ".join(f"%s::{f.db_type(connection)}[]" for f in [pk, *columns])
    aliases = ", ".join(["pk_", *[f"v{i}" for i in range(len(columns))]])
    sets = ", ".join(f"{qn(f.column)} = v.v{i}" for i, f in enumerate(columns))
    sql = (
        f"UPDATE {qn(opts.db_table)} SET {sets} FROM unnest({types}) AS v({aliases}) "  # noqa: S608
        f"WHERE {qn(opts.db_table)}.{qn(pk.column)} = v.pk_"
    )
    values = [[obj.pk for obj in objs]] + [
        [getattr(obj, f.attname) for obj in objs] for f in columns
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)


def values_of(obj: models.Model, fields: Sequence[str]) -> list[Any]:
    """An unsaved instance's values for `insert_returning` (foreign keys as ids)."""
    return [getattr(obj, name) for name in _attnames(type(obj), tuple(fields))]


@cache
def _attnames(model: type[models.Model], fields: tuple[str, ...]) -> tuple[str, ...]:
    meta: Any = model._meta
    return tuple(meta.get_field(name).attname for name in fields)


class AnyOf(Lookup[Any]):
    """`column = ANY(%s)` with the values as one array parameter (SQLite: one JSON text).

    `__in` sends one parameter per value, and PostgreSQL refuses a statement with more than
    65,535: a list that grows with the data (items marked by a burst of orders) must not."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if connection.vendor == "postgresql":
            array = f"{self.lhs.output_field.db_type(connection)}[]"
            return f"{lhs} = ANY(%s::{array})", [*params, values]
        sql = f"{lhs} IN (SELECT value FROM json_each(%s))"  # noqa: S608  (lhs: a column)
        return sql, [*params, json.dumps(values)]


def any_of(field: str, values: Iterable[Any]) -> AnyOf:
    """A filter for `.filter(any_of("item_id", ids))`: the field is one of the values, however
    many there are."""
    return AnyOf(F(field), list(values))
