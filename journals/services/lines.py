"""Legs into the lines of draft entries: legs of the same account, side, dimensions and
description add up into one line; every source record behind a leg is linked to that line, in
bulk (a list, or one INSERT … SELECT for a settlement's lines)."""

from __future__ import annotations

import json
from decimal import Decimal

from django.db import connection

from retailsync.core.db import update_rows

from ..models import AmountKind, JournalEntry, JournalLine, JournalLineSource
from ..posting.legs import Leg
from .mapping import Mapped


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
    queries: list[tuple[JournalLine, Leg]] = []
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
            queries.append((line, leg))
    JournalLine.objects.bulk_create(fresh)
    update_rows(JournalLine, ["debit", "credit"], list(touched.values()))
    JournalLineSource.objects.bulk_create(
        [
            JournalLineSource(line=x, source_type=t, source_id=i, amount=a)
            for (_, _, t, i), (x, a) in links.items()
        ],
        batch_size=5000,
    )
    for line, leg in queries:
        _sql_sources_insert(line, leg)


def _sql_sources_insert(line: JournalLine, leg: Leg) -> None:
    sources = leg.sql_sources
    assert sources is not None
    table = connection.ops.quote_name(JournalLineSource._meta.db_table)
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            # Over a large settlement the planner's estimate switches on JIT compilation,
            # which costs more than it saves on a statement that runs once.
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            f"INSERT INTO {table} (line_id, source_type, source_id, amount) "  # noqa: S608
            f"SELECT %s, %s, x.id, x.a FROM ({sources.sql}) x",
            [line.pk, sources.type, *sources.params],
        )
        if postgres:
            cursor.execute("SET LOCAL jit TO DEFAULT")
