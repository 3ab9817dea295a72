"""Accounting periods per legal entity: open, closed (events post to the next open period, with a
note saying why), locked (reversals only). A period without a row is open."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, transaction

from retailsync.core.errors import BusinessRuleViolation, Conflict, NotFound
from retailsync.core.models import LegalEntity

from ..models import AccountingPeriod, JournalEntry
from ..posting.when import period_of

P = AccountingPeriod.Status
# A month as YYYY-MM, of a year a date can hold with the month after it (not 0000, not 9999).
PERIOD = re.compile(r"^(?!0000|9999)[0-9]{4}-(0[1-9]|1[0-2])$")


def period_check(period: str, *, field: str = "period") -> str:
    if not PERIOD.match(period or ""):
        raise BusinessRuleViolation("must be a month as YYYY-MM", field=field)
    return period


def month_start(period: str) -> date:
    return date(int(period[:4]), int(period[5:7]), 1)


def month_after(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def month_end(period: str) -> date:
    return date.fromordinal(month_start(month_after(period)).toordinal() - 1)


def period_row(legal_entity_id: int, period: str) -> AccountingPeriod:
    """The period's row, made (open) the first time anything is posted to it."""
    found = AccountingPeriod.objects.filter(legal_entity_id=legal_entity_id, period=period).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return AccountingPeriod.objects.create(legal_entity_id=legal_entity_id, period=period)
    except IntegrityError:  # made meanwhile by another posting
        return AccountingPeriod.objects.get(legal_entity_id=legal_entity_id, period=period)


@dataclass(frozen=True, slots=True)
class Target:
    period: str
    posting_date: date
    note: str = ""


class Periods:
    """Where postings of a day land, per legal entity: the day's own period while it is open,
    else the first day of the next open one."""

    def __init__(self, legal_entity_ids: set[int]) -> None:
        self._shut: dict[int, dict[str, str]] = {i: {} for i in legal_entity_ids}
        rows = AccountingPeriod.objects.filter(
            legal_entity_id__in=legal_entity_ids, status__in=[P.CLOSED, P.LOCKED]
        ).values_list("legal_entity_id", "period", "status")
        for entity, period, status in rows:
            self._shut[entity][period] = status

    def target(self, legal_entity_id: int, day: date, *, by_day: bool = True) -> Target:
        shut = self._shut.get(legal_entity_id, {})
        period = period_of(day)
        if period not in shut:
            return Target(period, day if by_day else month_end(period))
        late = period
        while late in shut:
            late = month_after(late)
        note = (
            f"Dated {day.isoformat()}, in {period}, which is {shut[period]}: "
            f"posted in {late} instead."
        )
        return Target(late, month_start(late) if by_day else month_end(late), note)


def period_set_status(
    *,
    legal_entity: str,
    period: str,
    status: str,
    user: Any,
    now: datetime,
) -> AccountingPeriod:
    """close (open → closed), reopen (closed → open), lock (open or closed → locked, once every
    entry in it is posted). A locked period stays locked."""
    period_check(period)
    entity = LegalEntity.objects.filter(code=legal_entity).first()
    if entity is None:
        raise NotFound(f"legal entity {legal_entity!r} does not exist")
    with transaction.atomic():
        row = period_row(entity.pk, period)
        row = AccountingPeriod.objects.select_for_update().get(pk=row.pk)
        allowed = {P.CLOSED: {P.OPEN}, P.OPEN: {P.CLOSED}, P.LOCKED: {P.OPEN, P.CLOSED}}
        if row.status not in allowed.get(P(status), set()):
            raise Conflict(f"{legal_entity} {period} is {row.status}: it cannot become {status}")
        if status == P.LOCKED:
            waiting = (
                JournalEntry.objects.filter(period=row)
                .exclude(status=JournalEntry.Status.POSTED)
                .count()
            )
            if waiting:
                raise Conflict(
                    f"{legal_entity} {period} has {waiting} entries not posted yet: post them "
                    "(or let them go to the next period) before locking it"
                )
        row.status, row.changed_at = status, now
        row.changed_by = user if getattr(user, "is_authenticated", False) else None
        row.save(update_fields=["status", "changed_at", "changed_by"])
    return row
