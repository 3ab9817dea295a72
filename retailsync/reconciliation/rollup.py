"""The dashboard's largest figures from a daily rollup, kept fresh by the database itself.

Orders placed, shipped, expected and the settlement lines' three figures are a scan of 200,000
to 1,000,000 rows each per month: a second or more a page. So on PostgreSQL they are summed
once per channel and day into `DailyFigure`, and read from there (a few hundred rows a month).

What keeps it right is not the code that writes orders or settlement lines (the batch
endpoint, an upload's `COPY`, a migration, a person in `psql`): triggers on the tables behind
those figures note the days a write touched in `StaleDay` (statement triggers with the rows
written, so a million-line upload notes its thirty days in one statement, and a row trigger
for updates of the columns a figure reads, so matching a batch notes nothing). Before the
figures are read, `rollup_refresh` sums the stale days again from the records (the same
grouped query the live page runs, over those days only) and replaces them: the page is as
fresh as the last committed write. A beat task does the same every minute, so a page seldom
waits for it. SQLite (the demo) has no triggers here: the figures are read live there.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from .models import DailyFigure, StaleDay

# source: (table, the record's day as SQL over `r`, a join to reach it, the columns that move a
# figure when updated). A source is a `Pass` of figures.py by its `rollup` name.
MARKED: dict[str, list[tuple[str, str, str, tuple[str, ...]]]] = {
    "orders": [("orders_order", "r.placed_at", "", ("placed_at", "total", "channel_id"))],
    "shipped": [
        ("orders_shipment", "r.shipped_at", "", ("shipped_at",)),
        (
            "orders_shipmentline",
            "s.shipped_at",
            "JOIN orders_shipment s ON s.id = r.shipment_id",
            ("quantity", "line_id", "shipment_id"),
        ),
        # A line's price or quantity after it shipped: which days, the trigger cannot tell.
        ("orders_orderline", "NULL", "", ("total", "quantity")),
    ],
    "expected": [
        (
            "settlements_expectedsettlement",
            "r.expected_on",
            "",
            ("expected_on", "gross", "order_id"),
        )
    ],
    "lines": [
        (
            "settlements_settlementline",
            "r.posted_at",
            "",
            ("posted_at", "gross", "fee", "net", "kind", "batch_id"),
        )
    ],
}
LOCK = 7_301_013  # pg_advisory_xact_lock: one refresh at a time

_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION reconciliation_stale_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'INSERT INTO {StaleDay._meta.db_table} (source, day) '
        'SELECT DISTINCT %L, CAST(%s AS date) FROM %I r %s WHERE %s IS NOT NULL',
        TG_ARGV[0], TG_ARGV[1],
        CASE TG_OP WHEN 'DELETE' THEN 'old_rows' ELSE 'new_rows' END, TG_ARGV[2], TG_ARGV[1]);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reconciliation_stale_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- An update: the day it was and the day it is (a day of NULL: every day of the source).
    EXECUTE format(
        'INSERT INTO {StaleDay._meta.db_table} (source, day) SELECT DISTINCT %L, CAST(%s AS date) '
        'FROM (SELECT ($1).* UNION ALL SELECT ($2).*) r %s WHERE %L = ''NULL'' OR %s IS NOT NULL',
        TG_ARGV[0], TG_ARGV[1], TG_ARGV[2], TG_ARGV[1], TG_ARGV[1]) USING OLD, NEW;
    RETURN NULL;
END $$;
"""


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def triggers_sql() -> list[str]:
    """The statements that install the triggers (the migration runs them on PostgreSQL)."""
    statements = [_FUNCTIONS]
    for source, tables in MARKED.items():
        for n, (table, day, join, columns) in enumerate(tables):
            name = f"reconciliation_{source}_{n}"
            args = f"{_quoted(source)}, {_quoted(day)}, {_quoted(join)}"
            for op, rows in (
                ("INSERT", "NEW TABLE AS new_rows"),
                ("DELETE", "OLD TABLE AS old_rows"),
            ):
                if day == "NULL":  # a row in or out moves no figure by itself: updates only
                    continue
                statements.append(
                    f"CREATE TRIGGER {name}_{op.lower()} AFTER {op} ON {table} "
                    f"REFERENCING {rows} FOR EACH STATEMENT "
                    f"EXECUTE FUNCTION reconciliation_stale_rows({args})"
                )
            statements.append(
                f"CREATE TRIGGER {name}_update AFTER UPDATE OF {', '.join(columns)} ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION reconciliation_stale_row({args})"
            )
    return statements


def triggers_drop_sql() -> list[str]:
    statements = [
        f"DROP TRIGGER IF EXISTS reconciliation_{source}_{n}_{op} ON {table}"
        for source, tables in MARKED.items()
        for n, (table, *_rest) in enumerate(tables)
        for op in ("insert", "delete", "update")
    ]
    return [
        *statements,
        "DROP FUNCTION IF EXISTS reconciliation_stale_rows()",
        "DROP FUNCTION IF EXISTS reconciliation_stale_row()",
    ]


def rollup_used() -> bool:
    return connection.vendor == "postgresql"


def _runs(days: set[date]) -> list[tuple[date, date]]:
    """Stale days as ranges [start, end), a day's margin either side (a record's day is taken
    in the database session's zone, the figure's in the site's)."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        start, end = day - timedelta(days=1), day + timedelta(days=2)
        if runs and start <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(end, runs[-1][1]))
        else:
            runs.append((start, end))
    return runs


def rollup_refresh() -> int:
    """Sum the stale days again from their records; how many sources were refreshed."""
    from .figures import PASSES, pass_by_day

    if not rollup_used():
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK])
        cursor.execute(f"DELETE FROM {StaleDay._meta.db_table} RETURNING source, day")
        stale: dict[str, set[date | None]] = defaultdict(set)
        for source, day in cursor.fetchall():
            stale[source].add(day)
        for source in PASSES:
            if source.rollup not in stale:
                continue
            days = stale[source.rollup]
            runs = None if None in days else _runs({d for d in days if d is not None})
            window = Q()
            if runs is not None:
                for start, end in runs:
                    window |= Q(day__gte=start, day__lt=end)
            DailyFigure.objects.filter(window, figure__in=list(source.figures)).delete()
            DailyFigure.objects.bulk_create(
                DailyFigure(figure=name, channel_id=channel_id, day=day, amount=amount)
                for name, amounts in pass_by_day(source, runs).items()
                for (channel_id, day), amount in amounts.items()
            )
        return len(stale)


def rollup_read(names: list[str], ids: list[int], start: date, end: date) -> dict[str, Any]:
    """The rolled-up figures per channel and day, for days in [start, end)."""
    found: dict[str, dict[tuple[int, date], Any]] = {name: {} for name in names}
    rows = DailyFigure.objects.filter(
        figure__in=names, channel_id__in=ids, day__gte=start, day__lt=end
    ).values_list("figure", "channel_id", "day", "amount")
    for name, channel_id, day, amount in rows:
        found[name][(channel_id, day)] = amount
    return found
