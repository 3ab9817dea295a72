"""Shipments into the journals, set-based: what `postings_apply(sales_postings(…))` does for a
chunk of `order.shipped` events, in a few statements whatever the chunk's size.

In one transaction, on PostgreSQL:
1. the shipments `posting.sales_sql` takes, and their legs, into temporary tables;
2. each distinct (legal entity, channel, payment method, kind, jurisdiction) mapped to an
   account by the same `Chart`; a shipment with an unmapped leg, or whose legs do not balance,
   is left to the per-event path, which raises the exception for a person (or refuses it);
3. each shipment claimed in `PostedSource` (INSERT … ON CONFLICT DO NOTHING): one posted
   before, or by a racing run, is skipped;
4. the drafts of their groups found or made and locked by `apply.drafts_lock`, with the
   policies and the period as `apply._post` reads them;
5. legs summed into lines by (entry, account, side, dimensions, description): added to an
   entry's existing line of that key, or inserted; one source link per shipment and line,
   written by one INSERT … SELECT;
6. each touched entry balanced (`entries_balance_check`; the deferred trigger again at commit).

The shipments it does not take go through `postings_apply(sales_postings(…))` in the same
transaction. tests/journals/test_sales_bulk.py holds both paths equal line by line and source
by source.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from orders.events import OrderShipped
from retailsync.core.contracts import Typed, payload_decode
from retailsync.core.models import Channel, DomainEvent, LegalEntity
from retailsync.core.money import exponents

from ..models import AccountingPeriod
from ..posting.legs import ZERO, Leg
from ..posting.sales import sales_postings
from ..posting.sales_sql import (
    CREATE_SQL,
    INPUT,
    LEGS,
    LEGS_SQL,
    SHIPS,
    SHIPS_SQL,
    UNBALANCED_SQL,
)
from .apply import Applied, Group, drafts_lock, entries_balance_check, group_key_of, notes_add
from .apply import postings_apply as _postings_apply
from .lines import describe
from .mapping import Chart, Combination, unmapped_resolve
from .policies import Policies
from .sales_lines import TABLES, lines_write

EVENT = OrderShipped.EVENT  # type: ignore[attr-defined]
# The chunk's working tables: dropped at commit, and before and after a chunk (a test's
# transaction, or a subscriber's savepoint, holds more than one chunk).
TEMPORARY = (
    INPUT,
    SHIPS,
    LEGS,
    "journals_sale_map",
    "journals_sale_entries",
    *TABLES,
)
DROP_SQL = f"DROP TABLE IF EXISTS {', '.join(TEMPORARY)}"


def shipments_post(shipped: Sequence[tuple[int, int]], *, now: datetime) -> Applied:
    """Post these (event id, shipment id) pairs of `order.shipped`."""
    if not shipped:
        return Applied()
    if connection.vendor != "postgresql":
        return _per_event([e for e, _ in shipped], now)
    with transaction.atomic():
        result, left = _bulk(shipped, now)
        if left:
            more = _per_event(left, now)
            result.entries |= more.entries
            result.posted += more.posted
            result.skipped += more.skipped
    return result


def _per_event(event_ids: list[int], now: datetime) -> Applied:
    events = DomainEvent.objects.filter(pk__in=event_ids).order_by("pk")
    typed = [Typed(payload_decode(OrderShipped, e.payload), e) for e in events]
    return _postings_apply(sales_postings(typed), now=now)


def _bulk(shipped: Sequence[tuple[int, int]], now: datetime) -> tuple[Applied, list[int]]:
    """The set-based part; the events it left to the per-event path."""
    result = Applied()
    currencies = exponents()
    with connection.cursor() as cursor:
        # The planner's guesses over fresh temporary tables are far off, and large guesses
        # switch on JIT compilation, which cost more than the statements themselves.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(DROP_SQL)
        for statement in CREATE_SQL.split(";"):
            cursor.execute(statement)
        shut = [
            f"{entity}:{period}"
            for entity, period in AccountingPeriod.objects.exclude(
                status=AccountingPeriod.Status.OPEN
            ).values_list("legal_entity_id", "period")
        ]
        cursor.execute(
            f"INSERT INTO {INPUT} SELECT * FROM unnest(%s::bigint[], %s::bigint[])",  # noqa: S608
            [[s for _, s in shipped], [e for e, _ in shipped]],
        )
        cursor.execute(f"ANALYZE {INPUT}")  # so that a large chunk is joined by hashing
        cursor.execute(
            SHIPS_SQL,
            {
                "currencies": list(currencies),
                "tz": settings.TIME_ZONE,
                "shut": shut,
            },
        )
        cursor.execute(f"ANALYZE {SHIPS}")  # a temporary table has no statistics otherwise
        cursor.execute(
            LEGS_SQL, {"currencies": list(currencies), "exponents": list(currencies.values())}
        )
        cursor.execute(f"ANALYZE {LEGS}")
        cursor.execute(UNBALANCED_SQL)
        refused = {row[0] for row in cursor.fetchall()}
        refused |= _map(cursor, now)
        if refused:
            cursor.execute(
                f"DELETE FROM {SHIPS} WHERE shipment_id = ANY(%s)",  # noqa: S608
                [list(refused)],
            )
        cursor.execute(f"SELECT shipment_id FROM {SHIPS}")  # noqa: S608
        taken = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            f"""
            WITH claimed AS (
                INSERT INTO journals_postedsource (event_name, source_id, event_id, posted_at)
                SELECT %s, shipment_id, event_id, %s FROM {SHIPS} ORDER BY shipment_id
                ON CONFLICT (event_name, source_id) DO NOTHING
                RETURNING source_id
            )
            DELETE FROM {SHIPS} WHERE shipment_id NOT IN (SELECT source_id FROM claimed)
            """,  # noqa: S608
            [EVENT, now],
        )
        result.skipped += cursor.rowcount
        result.posted = len(taken) - cursor.rowcount
        if result.posted:
            result.entries = _post(cursor, now)
        cursor.execute(DROP_SQL)
        cursor.execute("SET LOCAL jit TO DEFAULT")
    left = [e for e, s in shipped if s not in taken]
    return result, left


def _map(cursor: CursorWrapper, now: datetime) -> set[int]:
    """Accounts of every distinct combination into `journals_sale_map`; the shipments with a
    leg that maps to none."""
    cursor.execute(
        f"""
        SELECT DISTINCT s.legal_entity_id, s.channel_id, g.leg_method, g.kind, g.jurisdiction
        FROM {LEGS} g JOIN {SHIPS} s ON s.shipment_id = g.shipment_id
        """  # noqa: S608
    )
    combinations = cursor.fetchall()
    entities = LegalEntity.objects.in_bulk({c[0] for c in combinations})
    channels = Channel.objects.in_bulk({c[1] for c in combinations})
    chart = Chart(entities)
    rows: list[tuple[object, ...]] = []
    missing: list[tuple[int, int, str, str, str]] = []
    mapped: set[Combination] = set()
    for entity_id, channel_id, method, kind, jurisdiction in combinations:
        found = chart.resolve(
            legal_entity_id=entity_id,
            channel_id=channel_id,
            payment_method=method,
            kind=kind,
            jurisdiction=jurisdiction,
        )
        if found is None:
            missing.append((entity_id, channel_id, method, kind, jurisdiction))
            continue
        dims = json.dumps(found.dimensions, sort_keys=True)
        text = describe(Leg(kind, ZERO, "", payment_method=method, jurisdiction=jurisdiction))
        rows.append(
            (
                len(rows) + 1,
                entity_id,
                channel_id,
                method,
                kind,
                jurisdiction,
                found.account_id,
                dims,
                text,
            )
        )
        mapped.add(
            Combination(
                entities[entity_id].code, channels[channel_id].code, method, kind, jurisdiction
            )
        )
    cursor.execute(
        "CREATE TEMPORARY TABLE journals_sale_map (map_id int, legal_entity_id bigint, "
        "channel_id bigint, leg_method text, kind text, jurisdiction text, account_id bigint, "
        "dims jsonb, description text) ON COMMIT DROP"
    )
    cursor.execute(
        "INSERT INTO journals_sale_map SELECT * FROM unnest(%s::int[], %s::bigint[], "
        "%s::bigint[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::jsonb[], "
        "%s::text[])",
        [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * 9,
    )
    cursor.execute("ANALYZE journals_sale_map")
    unmapped_resolve(mapped, now=now)
    if not missing:
        return set()
    cursor.execute(
        f"""
        SELECT DISTINCT g.shipment_id FROM {LEGS} g JOIN {SHIPS} s ON s.shipment_id = g.shipment_id
        WHERE (s.legal_entity_id, s.channel_id, g.leg_method, g.kind, g.jurisdiction) IN (
            SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[]))
        """,  # noqa: S608
        [list(column) for column in zip(*missing, strict=True)],
    )
    return {row[0] for row in cursor.fetchall()}


def _post(cursor: CursorWrapper, now: datetime) -> set[int]:
    groups = _groups(cursor)
    entries = drafts_lock(groups, now)
    cursor.execute(
        "CREATE TEMPORARY TABLE journals_sale_entries (legal_entity_id bigint, g_channel_id "
        "bigint, g_method text, g_order_id bigint, g_date date, currency text, entry_id bigint) "
        "ON COMMIT DROP"
    )
    keyed = [
        (
            g.legal_entity.pk,
            g.channel.pk if g.channel else 0,
            g.payment_method,
            g.order_id or 0,
            g.posting_date,
            g.currency,
            entries[key].pk,
        )
        for key, g in groups.items()
    ]
    cursor.execute(
        "INSERT INTO journals_sale_entries SELECT * FROM unnest(%s::bigint[], %s::bigint[], "
        "%s::text[], %s::bigint[], %s::date[], %s::text[], %s::bigint[])",
        [list(column) for column in zip(*keyed, strict=True)],
    )
    cursor.execute("ANALYZE journals_sale_entries")
    lines_write(cursor)
    notes_add(entries, groups, now)
    ids = {e.pk for e in entries.values()}
    entries_balance_check(ids)
    return ids


def _groups(cursor: CursorWrapper) -> dict[str, Group]:
    """Each shipment's group as the posting policy says (`apply._post`), in its columns; the
    groups, by key."""
    cursor.execute(f"SELECT DISTINCT legal_entity_id, channel_id FROM {SHIPS}")  # noqa: S608
    pairs = cursor.fetchall()
    policies = Policies({e for e, _ in pairs})
    rows = []
    for entity_id, channel_id in pairs:
        p = policies.of(entity_id, channel_id)
        rows.append(
            (entity_id, channel_id, p.by_channel, p.by_payment_method, p.by_day, p.per_order)
        )
    cursor.execute(
        f"""
        UPDATE {SHIPS} s SET
            g_channel_id = CASE WHEN p.by_channel THEN s.channel_id ELSE 0 END,
            g_method = CASE WHEN p.by_method THEN s.method ELSE '' END,
            g_order_id = CASE WHEN p.per_order THEN s.order_id ELSE 0 END,
            g_date = CASE WHEN p.by_day THEN s.day
                     ELSE (date_trunc('month', s.day) + interval '1 month - 1 day')::date END,
            period = to_char(s.day, 'YYYY-MM')
        FROM unnest(%s::bigint[], %s::bigint[], %s::bool[], %s::bool[], %s::bool[], %s::bool[])
             AS p(legal_entity_id, channel_id, by_channel, by_method, by_day, per_order)
        WHERE p.legal_entity_id = s.legal_entity_id AND p.channel_id = s.channel_id
        """,  # noqa: S608
        [list(column) for column in zip(*rows, strict=True)],
    )
    cursor.execute(
        f"""
        SELECT DISTINCT s.legal_entity_id, s.g_channel_id, s.g_method, s.g_order_id, s.g_date,
               s.period, g.currency
        FROM {SHIPS} s JOIN {LEGS} g ON g.shipment_id = s.shipment_id
        """  # noqa: S608
    )
    found = cursor.fetchall()
    entities = LegalEntity.objects.in_bulk({r[0] for r in found})
    channels = Channel.objects.in_bulk({r[1] for r in found if r[1]})
    groups: dict[str, Group] = {}
    for entity_id, channel_id, method, order_id, day, period, currency in found:
        g = Group(
            legal_entity=entities[entity_id],
            channel=channels[channel_id] if channel_id else None,
            payment_method=method,
            order_id=order_id or None,
            posting_date=day,
            currency=currency,
            period=period,
        )
        groups[group_key_of(g)] = g
    return groups
