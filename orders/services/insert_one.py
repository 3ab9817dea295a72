"""A new order, its inbound message and its event in one SQL statement.

Single-order deliveries are where a channel waits for each answer. Saved the set-based way (one
statement per table, as a batch is) an order took twelve round trips to PostgreSQL: BEGIN, the
message, the order, five kinds of details, the event, the resolution of earlier rejections, the
message's status, COMMIT; per request the round trips cost more CPU than the rows. Here the
whole write is one statement of data-modifying CTEs run in autocommit, so it is a transaction of
its own: everything is written, or nothing.

The rows travel as one JSON document, each row an array in its table's field order, read into
each column's own type (amounts as decimal strings, times in ISO 8601 with their offset, JSON
fields as themselves): the statement text never changes, so it is prepared once per connection,
and psycopg adapts four parameters instead of dozens. The ids that sibling rows point at (message,
lines, shipping lines, fees) are drawn from their sequences inside the statement, in position
order, into arrays that the rows referring to them index by position.

When the order's external id is taken already (an update, a redelivery, a race with another
delivery), or the channel's message id was delivered before, the statement writes nothing and
says so: the caller then takes the general path, which decides what such a message means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connection, connections, models

from retailsync.core.db import values_of
from retailsync.core.models import DomainEvent, ExceptionItem, InboundMessage

from ..models import DiscountAllocation, Order, OrderFee, OrderLine, Payment, ShippingLine, TaxLine

# The document's row sets and their tables. Every field list given for a child starts with
# "order", which the statement fills in; tax lines and discounts give their "line",
# "shipping_line" and "fee" as 1-based positions in "lines", "shipping" and "fees".
TABLES: dict[str, type[models.Model]] = {
    "order": Order,
    "lines": OrderLine,
    "shipping": ShippingLine,
    "fees": OrderFee,
    "taxes": TaxLine,
    "discounts": DiscountAllocation,
    "payments": Payment,
}
# The message is written with its final status; body and result come from the statement.
MESSAGE_FIELDS = (
    "channel",
    "kind",
    "message_id",
    "topic",
    "content_type",
    "headers",
    "correlation_id",
    "duplicate_of",
    "received_at",
    "processed_at",
    "status",
    "error",
    "attempts",
)
# Events about the new order; aggregate_id, and the payload's "order_id" and each of its
# "lines"' "line_id", are the ids the statement draws.
EVENT_FIELDS = (
    "name",
    "aggregate_type",
    "payload",
    "correlation_id",
    "created_at",
    "lane",
    "dispatched_at",
)
# A sibling reference (tax lines' and discounts' "line", "shipping_line", "fee") and the row
# set whose ids it points into; those row sets get their ids drawn in the statement.
_REFS = {"line": "lines", "shipping_line": "shipping", "fee": "fees"}


def _field(model: type[models.Model], name: str) -> Any:
    return model._meta.get_field(name)


def _q(name: str) -> str:
    return str(connection.ops.quote_name(name))


def _table(model: type[models.Model]) -> str:
    return _q(model._meta.db_table)


def _next_id(model: type[models.Model]) -> str:
    return f"nextval(pg_get_serial_sequence('{model._meta.db_table}', 'id'))"


# Casts for what the document carries: the column's own precision applies on assignment.
_CAST = {"DecimalField": "numeric", "DateTimeField": "timestamptz"}


def _value(model: type[models.Model], fields: Sequence[str], name: str, row: str) -> str:
    """The SQL for field `name` of a row given as a JSON array (`row`) in `fields` order, in
    the column's type: JSON as itself, text as text (so an overlong value fails as it would
    in an INSERT, where a cast to varchar(n) would cut it), anything else through its type's
    input function, which reads decimal strings and ISO 8601 times exactly."""
    field = _field(model, name)
    at = fields.index(name)
    if isinstance(field, models.JSONField):
        return f"{row}->{at}"
    if isinstance(field, models.CharField | models.TextField):
        return f"{row}->>{at}"
    return f"({row}->>{at})::{_CAST.get(field.get_internal_type(), field.db_type(connection))}"


def _insert(model: type[models.Model], fields: Sequence[str], key: str, numbered: bool) -> str:
    """INSERT … SELECT of the rows of `key` (JSON arrays in `fields` order) with the order's id,
    their own ids if `numbered` (drawn in CTE `ids`), and their siblings' ids in place of the
    positions the rows give."""
    names = (["id"] if numbered else []) + [_field(model, "order").column]
    values = ([f"ids.{key}[e.n]"] if numbered else []) + ["o.id"]
    for name in fields:
        if name == "order":
            continue
        names.append(_field(model, name).column)
        if name in _REFS:
            values.append(f"ids.{_REFS[name]}[{_value(model, fields, name, 'e.r')}]")
        else:
            values.append(_value(model, fields, name, "e.r"))
    return (
        f"INSERT INTO {_table(model)} ({', '.join(map(_q, names))})"  # noqa: S608
        f" SELECT {', '.join(values)} FROM o, ids, d,"
        f" jsonb_array_elements(d.j->'{key}') WITH ORDINALITY AS e(r, n)"
    )


@cache
def _statement(shape: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    fields = dict(shape)
    order_f = fields["order"]
    order_names = [_field(Order, f).column for f in order_f if f != "inbound_message"]
    order_values = [_value(Order, order_f, f, "x.r") for f in order_f if f != "inbound_message"]
    message_names = [_field(InboundMessage, f).column for f in MESSAGE_FIELDS]
    message_values = [_value(InboundMessage, MESSAGE_FIELDS, f, "x.r") for f in MESSAGE_FIELDS]
    event_f = [f for f in EVENT_FIELDS if f != "payload"]
    event_names = [_field(DomainEvent, f).column for f in event_f]
    event_values = [_value(DomainEvent, EVENT_FIELDS, f, "x.r") for f in event_f]
    payload = _value(DomainEvent, EVENT_FIELDS, "payload", "x.r")
    # Ids in position order: generate_series yields 1, 2, … and nextval runs in that order.
    drawn = ", ".join(
        f"ARRAY(SELECT {_next_id(TABLES[key])}"  # noqa: S608
        f" FROM generate_series(1, jsonb_array_length(d.j->'{key}'))) AS {key}"
        for key in _REFS.values()
    )
    inserts = ",\n".join(
        f"{key}_i AS ({_insert(TABLES[key], fields[key], key, key in _REFS.values())})"
        for key in ("lines", "shipping", "fees", "taxes", "discounts", "payments")
    )

    return f"""
WITH d AS MATERIALIZED (SELECT %(document)s::jsonb AS j),
ids AS MATERIALIZED (SELECT {_next_id(InboundMessage)} AS msg, {drawn} FROM d),
o AS (
    INSERT INTO {_table(Order)} (inbound_message_id, {", ".join(map(_q, order_names))})
    SELECT ids.msg, {", ".join(order_values)}
    FROM ids, (SELECT d.j->'order' AS r FROM d) AS x
    WHERE %(message_id)s = '' OR NOT EXISTS (
        SELECT FROM {_table(InboundMessage)} AS first
        WHERE first.channel_id = {_value(Order, order_f, "channel", "x.r")}
          AND first.message_id = %(message_id)s AND first.duplicate_of_id IS NULL
    )
    ON CONFLICT (channel_id, external_id) DO NOTHING
    RETURNING id
),
{inserts},
ei AS (
    INSERT INTO {_table(DomainEvent)} (aggregate_id, payload, {", ".join(map(_q, event_names))})
    SELECT o.id::text,
        {payload} || jsonb_build_object(
            'order_id', o.id,
            'lines', (
                SELECT coalesce(
                    jsonb_agg(e.r || jsonb_build_object('line_id', ids.lines[e.n]) ORDER BY e.n),
                    '[]'::jsonb
                )
                FROM jsonb_array_elements({payload}->'lines') WITH ORDINALITY AS e(r, n)
            )
        ),
        {", ".join(event_values)}
    FROM o, ids, d, jsonb_array_elements(d.j->'events') AS x(r)
),
xu AS (
    UPDATE {_table(ExceptionItem)} AS x
    SET status = '{ExceptionItem.Status.RESOLVED}', resolved_at = (d.j->>'now')::timestamptz,
        resolution = d.j->>'resolution'
    FROM o, d
    -- Spelled as the partial unique index on open keys is, so that it is the one used.
    WHERE x.status = '{ExceptionItem.Status.OPEN}' AND x.dedupe_key <> ''
      AND x.dedupe_key = %(rejection_key)s
),
mi AS (
    INSERT INTO {_table(InboundMessage)} (id, body, result, {", ".join(map(_q, message_names))})
    SELECT ids.msg, %(body)s,
        jsonb_build_object('orders', jsonb_build_array(jsonb_build_array(0, d.j->'result', o.id))),
        {", ".join(message_values)}
    FROM o, ids, d, (SELECT d.j->'message' AS r FROM d) AS x
)
SELECT o.id, ids.msg FROM o, ids
"""  # noqa: S608  (names from the models' metadata; values travel as parameters)


@cache
def _times(model: type[models.Model], fields: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(
        i for i, name in enumerate(fields) if isinstance(_field(model, name), models.DateTimeField)
    )


def _rows(
    model: type[models.Model], fields: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> list[Sequence[Any]]:
    """Rows as they go into the document: datetime columns in ISO 8601 with every microsecond
    (DjangoJSONEncoder, which encodes the rest, keeps milliseconds only, as JSON fields want)."""
    times = _times(model, fields)
    if not times:
        return list(rows)
    out: list[Sequence[Any]] = []
    for row in rows:
        plain = list(row)
        for i in times:
            if plain[i] is not None:
                plain[i] = plain[i].isoformat()
        out.append(plain)
    return out


# psycopg prepares nothing, even when asked, while its threshold is None (Django's default,
# for the sake of transaction-pooling proxies); this high one prepares only what asks.
_ONLY_WHEN_ASKED = 2**31 - 1


def _execute_prepared(sql: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """Run `sql` through Django's cursor (its error mapping, its query log), having psycopg
    prepare it, once per connection: a statement whose text never changes is then parsed and
    planned once, not once per order (planning this one cost PostgreSQL more than running it)."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the `connection` proxy is a lookup
    db.ensure_connection()
    raw: Any = db.connection
    if raw.prepare_threshold is None:
        raw.prepare_threshold = _ONLY_WHEN_ASKED

    def execute(run: Any, sql: str, params: Any, many: bool, context: Mapping[str, Any]) -> Any:
        with db.wrap_database_errors:
            return context["cursor"].cursor.execute(sql, params, prepare=True)

    with db.execute_wrapper(execute), db.cursor() as cursor:
        cursor.execute(sql, params)
        row: tuple[Any, ...] | None = cursor.fetchone()
        return row


class _Encoder(DjangoJSONEncoder):
    """DjangoJSONEncoder with its most frequent case, an amount, tried first."""

    def default(self, o: Any) -> Any:
        if type(o) is Decimal:
            return str(o)
        return super().default(o)


_encoder = _Encoder(separators=(",", ":"))


def order_insert_one(
    *,
    tables: Mapping[str, tuple[tuple[str, ...], Sequence[Sequence[Any]]]],
    message: InboundMessage,
    result: str,
    events: Sequence[Sequence[Any]],
    rejection_key: str,
    resolution: str,
    now: datetime,
) -> tuple[int, int] | None:
    """Write a new order and everything it carries (`tables`: for each key of `TABLES`, its
    field names and rows; the order is one row), its events (`EVENT_FIELDS`), its inbound message
    (`MESSAGE_FIELDS` of `message`, whose status says the outcome `result`), and the resolution
    of open exceptions with `rejection_key`, in one statement. Returns (order id, message id),
    or None when nothing was written: the external id is taken, or the message id was
    delivered before."""
    document: dict[str, Any] = {
        key: _rows(TABLES[key], fields, rows) for key, (fields, rows) in tables.items()
    }
    document["order"] = document["order"][0]
    document["events"] = _rows(DomainEvent, EVENT_FIELDS, events)
    document["message"] = _rows(
        InboundMessage, MESSAGE_FIELDS, [values_of(message, MESSAGE_FIELDS)]
    )[0]
    document.update(result=result, resolution=resolution, now=now.isoformat())
    shape = tuple((key, fields) for key, (fields, _) in sorted(tables.items()))
    row = _execute_prepared(
        _statement(shape),
        {
            "document": _encoder.encode(document),
            "body": bytes(message.body),
            "message_id": message.message_id,
            "rejection_key": rejection_key,
        },
    )
    return None if row is None else (int(row[0]), int(row[1]))
