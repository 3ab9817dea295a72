"""Reads of the ledger: entries with their lines and, for each line, the first of its sources
(a summarized line may stand for a hundred thousand orders: the rest are paged), and the way
back up, from a source record to the lines it fed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import django_filters
from django.db.models import Count, F, QuerySet, Sum, Window
from django.db.models.functions import RowNumber

from .models import AccountingPeriod, JournalEntry, JournalLine, JournalLineSource, SourceType

# Sources shown with each line of an entry; the rest: GET journals/{id}/lines/{line}/sources.
SOURCES_SHOWN = 100


def entries_listed() -> QuerySet[JournalEntry]:
    return (
        JournalEntry.objects.select_related(
            "legal_entity", "channel", "period", "approved_by", "second_approver", "reversal_of"
        )
        .annotate(total_debit=Sum("lines__debit"), total_credit=Sum("lines__credit"))
        .order_by("posting_date", "id")
    )


class EntryFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter is untyped
    period = django_filters.CharFilter(
        field_name="period__period", help_text="YYYY-MM", max_length=7
    )
    legal_entity = django_filters.CharFilter(field_name="legal_entity__code", max_length=32)
    channel = django_filters.CharFilter(field_name="channel__code", max_length=64)
    status = django_filters.ChoiceFilter(choices=JournalEntry.Status.choices)

    class Meta:
        model = JournalEntry
        fields = ["period", "legal_entity", "channel", "status"]


def lines_with_sources(entries: Sequence[JournalEntry], *, shown: int = SOURCES_SHOWN) -> None:
    """Give each entry `shown_lines`: its lines, each with `sources_count`, `sources_total`
    (what they add up to: the line's amount) and `shown_sources` (the first `shown`), in three
    queries whatever the number of entries."""
    ids = [e.pk for e in entries]
    lines = list(
        JournalLine.objects.filter(entry_id__in=ids)
        .select_related("account")
        .annotate(sources_count=Count("sources"), sources_total=Sum("sources__amount"))
        .order_by("entry_id", "pk")
    )
    first = (
        JournalLineSource.objects.filter(line__entry_id__in=ids)
        .annotate(rank=Window(RowNumber(), partition_by=[F("line_id")], order_by=F("id").asc()))
        .filter(rank__lte=shown)
        .order_by("line_id", "id")
    )
    sources: dict[int, list[JournalLineSource]] = defaultdict(list)
    for s in first:
        sources[s.line_id].append(s)
    by_entry: dict[int, list[JournalLine]] = defaultdict(list)
    for line in lines:
        line.shown_sources = sources.get(line.pk, [])  # type: ignore[attr-defined]
        by_entry[line.entry_id].append(line)
    for entry in entries:
        entry.shown_lines = by_entry.get(entry.pk, [])  # type: ignore[attr-defined]


def line_sources(*, entry_id: int, line_id: int) -> QuerySet[JournalLineSource]:
    return JournalLineSource.objects.filter(line_id=line_id, line__entry_id=entry_id).order_by("id")


def lines_fed_by(*, source_type: str, source_id: int) -> QuerySet[JournalLineSource]:
    """The way up: each journal line a source record is part of, with its part."""
    return (
        JournalLineSource.objects.filter(source_type=source_type, source_id=source_id)
        .select_related("line__entry", "line__account")
        .order_by("line__entry_id", "line_id", "id")
    )


def periods_listed() -> QuerySet[AccountingPeriod]:
    return AccountingPeriod.objects.select_related("legal_entity", "changed_by").order_by(
        "legal_entity__code", "period"
    )


SOURCE_TYPES = SourceType.values
