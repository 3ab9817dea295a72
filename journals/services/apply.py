"""Postings into summarized draft entries: the one write path from source events to the ledger.

For a chunk of postings, in one transaction:
1. every leg is mapped to an account (an unmapped one raises an exception for a person and
   leaves its source unposted; nothing is guessed);
2. each source event is claimed in `PostedSource` (INSERT … ON CONFLICT DO NOTHING): one that
   was posted before, or is being posted by a racing run, is skipped;
3. the legs go, per currency, to the open draft of their group (legal entity × channel ×
   payment method × posting date × currency, or one per order, as the posting policy says), in
   the period the day falls in, or the next open one with a note saying why;
4. legs of the same account, side, dimensions and description add up into one line, and every
   source record behind a leg is linked to that line, in bulk;
5. each touched entry must balance (the database's deferred trigger checks it again at commit).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum

from retailsync.core.db import insert_new, update_rows
from retailsync.core.errors import BusinessRuleViolation, Conflict
from retailsync.core.models import Channel, LegalEntity
from retailsync.core.services import exception_raise

from ..models import (
    AccountingPeriod,
    JournalEntry,
    JournalLine,
    PostedSource,
)
from ..posting.legs import Leg, Posting, unbalanced
from .lines import lines_add
from .mapping import UNMAPPED, Chart, Combination, Mapped, unmapped_raise, unmapped_resolve
from .periods import Periods, period_row
from .policies import Policies


class Unbalanced(BusinessRuleViolation):
    """Debits and credits that do not agree: a posting rule's fault, never committed."""


class PeriodShut(Conflict):
    """A period closed while postings were on their way into it: run again."""


@dataclass(slots=True)
class Applied:
    entries: set[int] = field(default_factory=set)
    posted: int = 0  # source events posted now
    skipped: int = 0  # unmapped, or posted before


@dataclass(slots=True)
class Group:
    legal_entity: LegalEntity
    channel: Channel | None
    payment_method: str
    order_id: int | None
    posting_date: date
    currency: str
    period: str
    notes: list[str] = field(default_factory=list)


def postings_apply(postings: Sequence[Posting], *, now: datetime) -> Applied:
    result = Applied()
    unique = list({(p.event_name, p.source_id): p for p in reversed(postings)}.values())[::-1]
    if not unique:
        return result
    with transaction.atomic():
        entities = {
            e.code: e for e in LegalEntity.objects.filter(code__in={p.legal_entity for p in unique})
        }
        channels = {
            c.code: c
            for c in Channel.objects.filter(code__in={p.channel for p in unique if p.channel})
        }
        chart = Chart(e.pk for e in entities.values())
        ready: list[tuple[Posting, list[Mapped]]] = []
        mapped_now: set[Combination] = set()
        for p in unique:
            off = unbalanced(p.legs)
            if off:
                raise Unbalanced(f"{p.event_name} {p.source_id} does not balance: {off}")
            mapped = _map(p, entities, channels, chart, mapped_now, now)
            if mapped is None:
                result.skipped += 1
            else:
                ready.append((p, mapped))
        claimed = _claim(ready, now)
        result.skipped += len(ready) - len(claimed)
        if claimed:
            result.entries = _post(claimed, entities, channels, now)
            result.posted = len(claimed)
        unmapped_resolve(mapped_now, now=now)
    return result


def _map(
    p: Posting,
    entities: dict[str, LegalEntity],
    channels: dict[str, Channel],
    chart: Chart,
    mapped_now: set[Combination],
    now: datetime,
) -> list[Mapped] | None:
    source = f"{p.event_name} {p.source_id}"
    channel = channels.get(p.channel)
    entity = entities.get(p.legal_entity)
    if entity is None:
        exception_raise(
            kind=UNMAPPED,
            reason=f"Journals: {source} names no legal entity we know "
            f"({p.legal_entity or 'none'}); it waits unposted.",
            object_type="legal_entity",
            object_id=p.legal_entity,
            channel=channel,
            dedupe_key=f"{UNMAPPED}:entity:{p.event_name}:{p.source_id}",
            correlation_id=p.correlation_id,
            now=now,
        )
        return None
    out: list[Mapped] = []
    missing: dict[Combination, None] = {}
    for leg in p.legs:
        combination = Combination(
            entity.code, p.channel, leg.payment_method, leg.kind, leg.jurisdiction
        )
        found = chart.resolve(
            legal_entity_id=entity.pk,
            channel_id=channel.pk if channel else None,
            payment_method=leg.payment_method,
            kind=leg.kind,
            jurisdiction=leg.jurisdiction,
        )
        if found is None:
            missing[combination] = None
        else:
            out.append(found)
            mapped_now.add(combination)
    for combination in missing:
        unmapped_raise(
            combination,
            source=source,
            channel=channel,
            correlation_id=p.correlation_id,
            now=now,
        )
    return None if missing else out


def _claim(
    ready: list[tuple[Posting, list[Mapped]]], now: datetime
) -> list[tuple[Posting, list[Mapped]]]:
    """The postings whose source no one has posted before: claimed now, in one statement per
    event name."""
    new: set[tuple[str, int]] = set()
    for name in sorted({p.event_name for p, _ in ready}):
        rows = [(name, p.source_id, p.event_id, now) for p, _ in ready if p.event_name == name]
        taken = insert_new(
            PostedSource,
            ("event_name", "source_id", "event", "posted_at"),
            rows,
            unique=("event_name", "source_id"),
            key="source_id",
        )
        new |= {(name, source_id) for source_id in taken}
    return [(p, m) for p, m in ready if (p.event_name, p.source_id) in new]


def _post(
    claimed: list[tuple[Posting, list[Mapped]]],
    entities: dict[str, LegalEntity],
    channels: dict[str, Channel],
    now: datetime,
) -> set[int]:
    periods = Periods({e.pk for e in entities.values()})
    policies = Policies({e.pk for e in entities.values()})
    groups: dict[str, Group] = {}
    placed: list[tuple[int, Leg, Mapped, str]] = []
    for index, (p, mapped) in enumerate(claimed):
        entity, channel = entities[p.legal_entity], channels.get(p.channel)
        policy = policies.of(entity.pk, channel.pk if channel else None)
        target = periods.target(entity.pk, p.posting_date, by_day=policy.by_day)
        keys: dict[str, str] = {}
        for currency in dict.fromkeys(leg.currency for leg in p.legs):
            group = Group(
                legal_entity=entity,
                channel=channel if policy.by_channel else None,
                payment_method=p.payment_method if policy.by_payment_method else "",
                order_id=p.order_id if policy.per_order else None,
                posting_date=target.posting_date,
                currency=currency,
                period=target.period,
            )
            key = group_key_of(group)
            group = groups.setdefault(key, group)
            group.notes += [n for n in p.notes if n not in group.notes]
            if target.note:
                group.notes.append(f"{p.event_name} {p.source_id}: {target.note}")
            keys[currency] = key
        legs = zip(p.legs, mapped, strict=True)
        placed += [(index, leg, m, keys[leg.currency]) for leg, m in legs]
    entries = drafts_lock(groups, now)
    lines_add(entries, placed)
    notes_add(entries, groups, now)
    ids = {e.pk for e in entries.values()}
    entries_balance_check(ids)
    return ids


def group_key_of(g: Group) -> str:
    parts = [
        g.legal_entity.code,
        g.channel.code if g.channel else "*",
        g.payment_method or "*",
        g.posting_date.isoformat(),
        g.currency,
    ]
    if g.order_id:
        parts.append(f"order:{g.order_id}")
    return "|".join(parts)[:300]


def drafts_lock(groups: dict[str, Group], now: datetime) -> dict[str, JournalEntry]:
    """The open draft of each group, locked (made where there is none yet)."""
    periods: dict[tuple[int, str], AccountingPeriod] = {}
    for g in groups.values():
        if (g.legal_entity.pk, g.period) not in periods:
            periods[(g.legal_entity.pk, g.period)] = period_row(g.legal_entity.pk, g.period)
    for period, status in periods_hold([p.pk for p in periods.values()]):
        if status != AccountingPeriod.Status.OPEN:
            raise PeriodShut(f"{period} was {status} meanwhile: run the journals again")
    found = {
        e.group_key: e
        for e in JournalEntry.objects.select_for_update()
        .filter(group_key__in=list(groups), status=JournalEntry.Status.DRAFT, approved_by=None)
        .order_by("pk")
    }
    for key in sorted(set(groups) - set(found)):
        g = groups[key]
        found[key] = _draft_create(key, g, periods[(g.legal_entity.pk, g.period)], now)
    return found


def periods_hold(ids: list[int]) -> list[tuple[str, str]]:
    """(period, status) of these periods, held till commit FOR SHARE: postings hold a period
    open together (two chunks of a run write at once), while a change of its status
    (`period_set_status`, FOR UPDATE) waits for them all, and they for it."""
    if not ids:
        return []
    table = connection.ops.quote_name(AccountingPeriod._meta.db_table)
    marks = ", ".join(["%s"] * len(ids))
    lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT period, status FROM {table} WHERE id IN ({marks}) ORDER BY id{lock}",  # noqa: S608
            ids,
        )
        return [(period, status) for period, status in cursor.fetchall()]


def _draft_create(key: str, g: Group, period: AccountingPeriod, now: datetime) -> JournalEntry:
    try:
        with transaction.atomic():
            entry = JournalEntry.objects.create(
                legal_entity=g.legal_entity,
                channel=g.channel,
                payment_method=g.payment_method,
                order_id=g.order_id,
                posting_date=g.posting_date,
                currency=g.currency,
                period=period,
                group_key=key,
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:  # a racing run made it first: wait for it, then add to it
        return JournalEntry.objects.select_for_update().get(
            group_key=key, status=JournalEntry.Status.DRAFT, approved_by=None
        )
    entry.number = entry_number(entry)
    JournalEntry.objects.filter(pk=entry.pk).update(number=entry.number)
    return entry


def entry_number(entry: JournalEntry) -> str:
    return f"JE-{entry.posting_date:%Y-%m}-{entry.pk:06d}"


def notes_add(entries: dict[str, JournalEntry], groups: dict[str, Group], now: datetime) -> None:
    for key, entry in entries.items():
        said = entry.note.splitlines()
        new = [n for n in groups[key].notes if n not in said]
        if new:
            entry.note = "\n".join([*said, *new])
        entry.updated_at = now
    update_rows(JournalEntry, ["note", "updated_at"], list(entries.values()))


def entries_balance_check(entry_ids: Iterable[int]) -> None:
    """Every entry's debits equal its credits (an entry has one currency)."""
    sums = (
        JournalLine.objects.filter(entry_id__in=list(entry_ids))
        .values("entry_id")
        .annotate(d=Sum("debit"), c=Sum("credit"))
        .order_by()
    )
    off = [(s["entry_id"], s["d"], s["c"]) for s in sums if s["d"] != s["c"]]
    if off:
        raise Unbalanced("; ".join(f"entry {e} has debits {d} and credits {c}" for e, d, c in off))
