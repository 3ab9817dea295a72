"""An entry's life: draft → approved (a second, different approver above the threshold) →
posting → posted, or failed → posting again. Posted entries are never edited: a reversal
(a new entry, every line swapped) corrects them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum

from retailsync.core.errors import BusinessRuleViolation, Conflict, NotFound

from ..models import AccountingPeriod, JournalEntry, JournalLine, JournalLineSource
from ..posting.when import period_of
from .apply import entries_balance_check, entry_number
from .periods import period_row

S = JournalEntry.Status
P = AccountingPeriod.Status


def entry_locked(entry_id: int) -> JournalEntry:
    entry = (
        JournalEntry.objects.select_for_update()
        .select_related("period", "legal_entity")
        .filter(pk=entry_id)
        .first()
    )
    if entry is None:
        raise NotFound(f"journal entry {entry_id} does not exist")
    return entry


def entry_total(entry: JournalEntry) -> Decimal:
    total = entry.lines.aggregate(d=Sum("debit"))["d"]
    return total or Decimal(0)


def second_approval_above() -> Decimal:
    return Decimal(str(settings.JOURNAL_SECOND_APPROVAL_ABOVE))


def _refuse_if_locked(entry: JournalEntry, verb: str) -> None:
    if entry.period.status == P.LOCKED and entry.reversal_of_id is None:
        raise Conflict(
            f"{entry.period.period} is locked: it takes reversals only, nothing to {verb}"
        )


def journal_entry_approve(*, entry_id: int, user: Any, now: datetime) -> JournalEntry:
    """Approve a draft. Above the threshold (in the entry's currency) the first approval waits
    for a second one, by someone else; an entry waiting so takes no more lines."""
    with transaction.atomic():
        entry = entry_locked(entry_id)
        if entry.status != S.DRAFT:
            raise Conflict(f"{entry} is {entry.status}: only a draft is approved")
        _refuse_if_locked(entry, "approve")
        if not entry.lines.exists():
            raise BusinessRuleViolation(f"{entry} has no lines")
        if entry.approved_by_id is None:
            entry.approved_by, entry.approved_at = user, now
            if entry_total(entry) <= second_approval_above():
                entry.status = S.APPROVED
        elif entry.approved_by_id == user.pk:
            raise BusinessRuleViolation(
                f"{entry} is over {second_approval_above()} {entry.currency}: a second, "
                "different approver must approve it",
                field="approver",
            )
        else:
            entry.second_approver, entry.status = user, S.APPROVED
        entry.updated_at = now
        entry.save(
            update_fields=["approved_by", "approved_at", "second_approver", "status", "updated_at"]
        )
    return entry


def journal_entry_post(*, entry_id: int, now: datetime) -> JournalEntry:
    """Hand an approved (or failed) entry to its ERP: the delivery runs after commit, with its
    retries (`journals.tasks`)."""
    from ..tasks import journal_entry_deliver_task

    with transaction.atomic():
        entry = entry_locked(entry_id)
        if entry.status not in (S.APPROVED, S.FAILED):
            raise Conflict(f"{entry} is {entry.status}: only an approved or failed entry is posted")
        _refuse_if_locked(entry, "post")
        entry.status, entry.updated_at = S.POSTING, now
        entry.save(update_fields=["status", "updated_at"])
        pk = entry.pk
        transaction.on_commit(lambda: _publish(journal_entry_deliver_task, pk))
    return entry


def _publish(task: Any, entry_id: int) -> None:
    from retailsync.core.publish import task_publish

    task_publish(task, entry_id=entry_id, attempt=1)


def journal_entry_reverse(
    *, entry_id: int, user: Any, now: datetime, posting_date: date | None = None, note: str = ""
) -> JournalEntry:
    """A draft that undoes a posted entry line by line, with the same sources. Dated as the
    entry (a locked period takes reversals), or on `posting_date`."""
    with transaction.atomic():
        entry = entry_locked(entry_id)
        if entry.status != S.POSTED:
            raise Conflict(f"{entry} is {entry.status}: only a posted entry is reversed")
        if entry.reversal_of_id is not None:
            raise Conflict(f"{entry} is a reversal itself: post the entry again instead")
        day = posting_date or entry.posting_date
        period = period_row(entry.legal_entity_id, period_of(day))
        why = note.strip() or "correction"
        try:
            with transaction.atomic():
                reversal = JournalEntry.objects.create(
                    legal_entity_id=entry.legal_entity_id,
                    channel_id=entry.channel_id,
                    payment_method=entry.payment_method,
                    order_id=entry.order_id,
                    posting_date=day,
                    currency=entry.currency,
                    period=period,
                    group_key=f"reversal:{entry.pk}",
                    reversal_of=entry,
                    note=f"Reverses {entry.number} ({why}; by {getattr(user, 'username', '')})",
                    created_at=now,
                    updated_at=now,
                )
        except IntegrityError:
            raise Conflict(f"{entry} is reversed already") from None
        reversal.number = entry_number(reversal)
        reversal.save(update_fields=["number"])
        _lines_mirror(entry, reversal)
        entries_balance_check([reversal.pk])
    return reversal


def _lines_mirror(entry: JournalEntry, reversal: JournalEntry) -> None:
    lines = list(entry.lines.order_by("pk"))
    mirrored = [
        JournalLine(
            entry=reversal,
            account_id=x.account_id,
            debit=x.credit,
            credit=x.debit,
            dimensions=x.dimensions,
            description=x.description,
            fx_rate=x.fx_rate,
            fx_rate_source=x.fx_rate_source,
        )
        for x in lines
    ]
    JournalLine.objects.bulk_create(mirrored)
    by_old = {old.pk: new for old, new in zip(lines, mirrored, strict=True)}
    batch: list[JournalLineSource] = []
    sources = JournalLineSource.objects.filter(line__entry=entry).order_by("pk")
    for s in sources.iterator(chunk_size=5000):
        batch.append(
            JournalLineSource(
                line=by_old[s.line_id],
                source_type=s.source_type,
                source_id=s.source_id,
                amount=s.amount,
            )
        )
        if len(batch) >= 5000:
            JournalLineSource.objects.bulk_create(batch)
            batch = []
    JournalLineSource.objects.bulk_create(batch)
