"""The entry list with its filters, one entry with its lines and the first sources of each, and
one line's sources paged: a summarized line may stand for a hundred thousand orders, so the
entry shows each line's first SOURCES_PER_PAGE with their count and sum (the line's amount),
and the line's own page goes through the rest."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models import Count, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from retailsync.core.views import roles_required

from ..forms import EntryPageFilter, ReverseForm
from ..models import JournalEntry, JournalLine
from ..selectors import entries_listed, lines_with_sources
from ..services.lifecycle import second_approval_above
from ..sources import SourceShown, sources_shown

finance_page = roles_required("finance")
ENTRIES_PER_PAGE = 50
SOURCES_PER_PAGE = 50
S = JournalEntry.Status


def _query(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def _valid(filtered: EntryPageFilter) -> QuerySet[JournalEntry]:
    """What the filters select; nothing for a value that is not one of the choices (the form
    says why), rather than everything as if that filter were not there."""
    selected: QuerySet[JournalEntry] = (
        filtered.qs if filtered.is_valid() else filtered.queryset.none()
    )
    return selected


@finance_page
def entry_list(request: HttpRequest) -> HttpResponse:
    filtered = EntryPageFilter(
        request.GET, queryset=entries_listed().order_by("-posting_date", "-pk")
    )
    return render(
        request,
        "journals/list.html",
        {
            "filter": filtered,
            "page": Paginator(_valid(filtered), ENTRIES_PER_PAGE).get_page(request.GET.get("page")),
            "query": _query(request),
        },
    )


def _offered(entry: JournalEntry, reversed_by: JournalEntry | None) -> dict[str, Any]:
    """The steps the entry's state allows, as its buttons read. What the services refuse
    beyond the state (the second approver, a locked period) comes back as a message."""
    return {
        "approve": (
            ("Second approval" if entry.approved_by_id else "Approve")
            if entry.status == S.DRAFT
            else None
        ),
        "post": {S.APPROVED.value: "Post to the ERP", S.FAILED.value: "Post again"}.get(
            entry.status
        ),
        "reverse": entry.status == S.POSTED
        and entry.reversal_of_id is None
        and reversed_by is None,
    }


def _lines_named(entry: JournalEntry) -> list[tuple[JournalLine, list[SourceShown]]]:
    """Each line with its shown sources named, all named together (a query per type)."""
    lines: list[JournalLine] = getattr(entry, "shown_lines", [])
    firsts = [list(getattr(line, "shown_sources", [])) for line in lines]
    named = sources_shown(s for first in firsts for s in first)
    grouped, at = [], 0
    for line, first in zip(lines, firsts, strict=True):
        grouped.append((line, named[at : at + len(first)]))
        at += len(first)
    return grouped


@finance_page
def entry_detail(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(entries_listed(), pk=pk)
    lines_with_sources([entry], shown=SOURCES_PER_PAGE)
    reversed_by = JournalEntry.objects.filter(reversal_of=entry).first()
    return render(
        request,
        "journals/detail.html",
        {
            "entry": entry,
            "lines": _lines_named(entry),
            "sources_per_page": SOURCES_PER_PAGE,
            "deliveries": entry.deliveries.order_by("attempt"),
            "reversed_by": reversed_by,
            "offered": _offered(entry, reversed_by),
            "awaiting_second": entry.status == S.DRAFT and entry.approved_by_id is not None,
            "threshold": second_approval_above(),
            "reverse_form": ReverseForm(),
        },
    )


@finance_page
def line_sources(request: HttpRequest, pk: int, line: int) -> HttpResponse:
    row = get_object_or_404(
        JournalLine.objects.select_related("entry", "account").annotate(
            sources_count=Count("sources"), sources_total=Sum("sources__amount")
        ),
        pk=line,
        entry_id=pk,
    )
    page = Paginator(row.sources.order_by("pk"), SOURCES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "journals/line.html",
        {
            "entry": row.entry,
            "line": row,
            "page": page,
            "sources": sources_shown(page.object_list),
            "query": "",
        },
    )
