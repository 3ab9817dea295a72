"""Which day a source event belongs to."""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone


def local_date(moment: datetime) -> date:
    """The date of `moment` in the project's time zone (the books' days)."""
    return timezone.localtime(moment).date() if timezone.is_aware(moment) else moment.date()


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"
