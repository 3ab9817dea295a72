"""Legs into the lines of draft entries: legs of the same account, side, dimensions and
description add up into one line; every source record behind a leg is linked to that line, in
bulk (a list, or one INSERT … SELECT for a settlement's lines)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.db import connection

from retailsync.core.db import update_rows

from ..models import AmountKind, JournalEntry, JournalLine, JournalLineSource
from ..posting.legs import Leg
from .mapping import Mapped

_Query = tuple[str, str, tuple[Any, ...]]  # a leg's SqlSources: source type, SQL, parameters


def _line_key(
    entry_id: int, account_id: int, debit: bool, dims: dict[str, str], line: JournalLine | Leg
) -> tuple[object, ...]:
    rate = line.fx_rate.normalize() if line.fx_rate is not None else None
    return (
        entry_id,
        account_id,
        debit,
        json.dumps(dims, sort_keys=True),
        line.description if isinstance(line, JournalLine) else describe(line),
        rate,
        line.fx_rate_source,
    )


# Where the payment method tells lines of one account apart (a clearing account per method).
_BY_METHOD = {AmountKind.CLEARING, AmountKind.CASH_IN_TRANSIT, AmountKind.BANK}


def describe(leg: Leg) -> str:
    """A line's description: the rule's own, else the kind of amount, with the jurisdiction
    (tax per jurisdiction) or the payment method (clearing per method) that keep lines apart."""
    if leg.description:
        return leg.description[:300]
    text = AmountKind(leg.kind).label if leg.kind in AmountKind.values else leg.kind
    if leg.jurisdiction:
        text += f" {leg.jurisdiction}"
    if leg.payment_method and leg.kind in _BY_METHOD:
        text += f" ({leg.payment_method})"
    return text[:300]


def lines_add(entries: dict[str, JournalEntry], placed: list[tuple[int, Leg, Mapped, str]]) -> None:
    """Legs into lines; one source row per line, source record and posting."""
    ids = [e.pk for e in entries.values()]
    lines = {
        _line_key(x.entry_id, x.account_id, x.debit > 0, x.dimensions, x): x
        for x in JournalLine.objects.filter(entry_id__in=ids).order_by("pk")
    }
    touched: dict[int, JournalLine] = {}
    fresh: list[JournalLine] = []
    links: dict[tuple[int, int, str, int], tuple[JournalLine, Decimal]] = {}
    queries: dict[_Query, list[tuple[str, JournalLine]]] = {}
    for posting, leg, mapped, key in placed:
        entry, debit = entries[key], leg.amount > 0
        k = _line_key(entry.pk, mapped.account_id, debit, mapped.dimensions, leg)
        line = lines.get(k)
        if line is None:
            line = lines[k] = JournalLine(
                entry=entry,
                account_id=mapped.account_id,
                dimensions=mapped.dimensions,
                description=describe(leg),
                fx_rate=leg.fx_rate,
                fx_rate_source=leg.fx_rate_source[:200],
            )
            fresh.append(line)
        elif line.pk:
            touched[line.pk] = line
        size = abs(leg.amount)
        if debit:
            line.debit += size
        else:
            line.credit += size
        sign = 1 if debit else -1
        for s in leg.sources:
            at = (posting, id(line), s.type, s.id)
            before = links[at][1] if at in links else Decimal(0)
            links[at] = (line, before + s.amount * sign)
        if leg.sql_sources is not None:
            q = leg.sql_sources
            queries.setdefault((q.type, q.sql, q.params), []).append((q.part, line))
    JournalLine.objects.bulk_create(fresh)
    update_rows(JournalLine, ["debit", "credit"], list(touched.values()))
    JournalLineSource.objects.bulk_create(
        [
            JournalLineSource(line=x, source_type=t, source_id=i, amount=a)
            for (_, _, t, i), (x, a) in links.items()
        ],
        batch_size=5000,
    )
    for query, parts in queries.items():
        _sql_sources_insert(query, [(part, line.pk) for part, line in parts])


def _sql_sources_insert(query: _Query, parts: list[tuple[str, int]]) -> None:
    """One pass over a query shared by legs: each row of a leg's part linked to its line."""
    source_type, sql, params = query
    table = connection.ops.quote_name(JournalLineSource._meta.db_table)
    cases = " ".join(["WHEN %s THEN %s"] * len(parts))
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            # Over a large settlement the planner's estimate switches on JIT compilation,
            # which costs more than it saves on a statement that runs once.
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            f"INSERT INTO {table} (line_id, source_type, source_id, amount) "  # noqa: S608
            f"SELECT y.line_id, %s, y.id, y.amount FROM ("
            f"SELECT CASE x.part {cases} END AS line_id, x.id, x.amount FROM ({sql}) x"
            f") y WHERE y.line_id IS NOT NULL",
            [source_type, *[v for part in parts for v in part], *params],
        )
        if postgres:
            cursor.execute("SET LOCAL jit TO DEFAULT")
