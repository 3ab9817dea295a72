"""The batch list with its filters, one batch with its figures, runs and lines, and the two
things finance does to a whole batch: run the rules again, or undo them."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from retailsync.core.audit import audit_note
from retailsync.core.errors import DomainError
from retailsync.core.tables import Listing, listing
from retailsync.core.templatetags.money import money
from retailsync.core.views import roles_required

from ..matching import batch_match, batches_match
from ..matching.actions import batch_undo
from ..models import Outcome, SettlementBatch
from ..selectors import batch_totals_by, batches_listed
from ..tables import BatchSearchFilter, BatchTable, LineSearchFilter, LineTable

finance_page = roles_required("finance")
BATCHES_PER_PAGE = 50
LINES_PER_PAGE = 100
OUTCOMES = {value: str(label).lower() for value, label in Outcome.choices}


@finance_page
def batch_list(request: HttpRequest) -> HttpResponse:
    filtered = BatchSearchFilter(request.GET, queryset=batches_listed())
    shown = listing(
        request,
        filtered=filtered,
        table_class=BatchTable,
        filename="settlement-batches",
        per_page=BATCHES_PER_PAGE,
    )
    if not isinstance(shown, Listing):
        return shown
    return render(request, "settlements/batches.html", {"filter": filtered, "table": shown.table})


def _totals(batch: SettlementBatch, field: str, labels: dict[str, str]) -> list[dict[str, object]]:
    """`batch_totals_by` with each row's key as a person reads it."""
    rows = batch_totals_by(batch, field)
    return [
        {**row, "key": row[field], "label": labels.get(str(row[field]), row[field])} for row in rows
    ]


@finance_page
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(batches_listed(), pk=pk)
    lines = LineSearchFilter(
        request.GET, queryset=batch.lines.select_related("order").order_by("row", "pk")
    )
    shown = listing(
        request,
        filtered=lines,
        table_class=LineTable,
        filename=f"settlement-{batch.provider}-{batch.key}-lines",
        per_page=LINES_PER_PAGE,
    )
    if not isinstance(shown, Listing):
        return shown
    return render(
        request,
        "settlements/batch.html",
        {
            "batch": batch,
            "totals": [
                ("kind", "kind", _totals(batch, "kind", {})),
                ("outcome", "outcome", _totals(batch, "outcome", OUTCOMES)),
            ],
            "runs": batch.runs.select_related("by").order_by("-started_at", "-pk")[:20],
            "filter": lines,
            "table": shown.table,
            "unmatched": Outcome.UNMATCHED,
        },
    )


def _summary(batch: SettlementBatch) -> str:
    return (
        f"{batch.matched} of {batch.lines_count} lines matched, variance "
        f"{money(batch.variance, batch.currency)} {batch.currency}"
    )


@finance_page
@require_POST
def batch_rematch(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(batches_listed(), pk=pk)
    now = timezone.now()
    try:
        batch_match(batch, now=now, user=request.user)
        batches_match([], now=now)  # payouts to deposits, as after an upload
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("settlement-batch-page", pk=pk)
    batch.refresh_from_db()
    done = f"{batch}: matching run again. {_summary(batch)}."
    messages.success(request, done)
    audit_note(request, done)
    return redirect("settlement-batch-page", pk=pk)


@finance_page
@require_POST
def batch_undo_page(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(batches_listed(), pk=pk)
    try:
        reset = batch_undo(batch, user=request.user, now=timezone.now())  # type: ignore[arg-type]
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("settlement-batch-page", pk=pk)
    batch.refresh_from_db()
    done = f"{batch}: matching undone, {reset} line(s) back to unmatched. {_summary(batch)}."
    messages.success(request, done)
    audit_note(request, done)
    return redirect("settlement-batch-page", pk=pk)
