"""How long an exception may stay open before it is overdue: hours per kind
(`RETAILSYNC_EXCEPTION_SLA_HOURS`), 48 for a kind not named there.

The due time is derived, not stored: a change of the hours applies to every open exception at
once, and the statements that raise exceptions in bulk (backorders, matching findings) need
not know of it. `overdue_q` is one condition over (kind, created_at), usable in any query.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from .models import ExceptionItem

DEFAULT_SLA_HOURS = 48


def sla_hours() -> dict[str, int]:
    hours: dict[str, int] = getattr(settings, "RETAILSYNC_EXCEPTION_SLA_HOURS", {})
    return hours


def sla_of(kind: str) -> timedelta:
    return timedelta(hours=sla_hours().get(kind, DEFAULT_SLA_HOURS))


def due_at(item: ExceptionItem) -> datetime:
    return item.created_at + sla_of(item.kind)


def is_overdue(item: ExceptionItem, now: datetime) -> bool:
    """Open past its due time; a closed one is never overdue."""
    return item.status == ExceptionItem.Status.OPEN and due_at(item) <= now


def overdue_q(now: datetime) -> Q:
    """Open exceptions past their kind's due time, as one condition."""
    named = sla_hours()
    late = Q(created_at__lte=now - timedelta(hours=DEFAULT_SLA_HOURS)) & ~Q(kind__in=list(named))
    for kind, hours in named.items():
        late |= Q(kind=kind, created_at__lte=now - timedelta(hours=hours))
    return Q(status=ExceptionItem.Status.OPEN) & late
