"""The exception workbench (`/exceptions/`): the queue with its aging, filters as choices, an
owner and an SLA per exception, bulk assign/resolve/ignore of the selected rows; and one
exception's page with its comments, its owner and its closing note (always required)."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from .api import close_outcome, exceptions_listed
from .audit import audit_note
from .errors import DomainError
from .filters import ExceptionPageFilter, owner_choices
from .models import ExceptionItem
from .registry import ObjectLink, object_links, reasons_by_domain
from .selectors import AGING_BUCKETS, exceptions_aging
from .services import exception_close
from .sla import due_at, is_overdue, sla_hours
from .tables import Listing, SelectColumn, WhenColumn, WordsColumn, listing
from .templatetags.display import reason, when
from .views import safe_next, staff_required
from .workbench import (
    exception_assign,
    exception_comment_add,
    exceptions_assign,
    exceptions_close,
    owner_named,
)


class ExceptionTable(tables.Table):  # type: ignore[misc]  # django-tables2 has no types
    select = SelectColumn(form="bulk")
    id = tables.Column(verbose_name="#", attrs={"td": {"class": "nowrap"}})
    kind = tables.Column(verbose_name="Kind")
    reason = tables.Column(verbose_name="What happened", orderable=False)
    concerns = tables.Column(
        verbose_name="Concerns", accessor="object_label", order_by=("object_type", "object_id")
    )
    channel = tables.Column(accessor="channel__code", verbose_name="Channel", default="")
    owner = tables.Column(accessor="owner__username", verbose_name="Owner", default="")
    created_at = WhenColumn(verbose_name="Raised")
    due = tables.Column(accessor="pk", verbose_name="Due", orderable=False)
    occurrences = tables.Column(verbose_name="Seen", attrs={"td": {"class": "num"}})
    status = WordsColumn(verbose_name="Status")
    resolution = tables.Column(verbose_name="Resolution", default="", orderable=False)

    class Meta:
        model = ExceptionItem
        fields: list[str] = []
        sequence = (
            "select",
            "id",
            "kind",
            "reason",
            "concerns",
            "channel",
            "owner",
            "created_at",
            "due",
            "occurrences",
            "status",
            "resolution",
        )
        attrs = {"id": "exceptions"}
        empty_text = "No exceptions match."
        row_attrs = {
            "data-exception": lambda record: record.pk,
            "class": lambda table, record: "overdue" if is_overdue(record, table.now) else "",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.now = timezone.now()
        self._links: dict[tuple[str, str], ObjectLink] | None = None

    def link(self, record: ExceptionItem) -> ObjectLink | None:
        if self._links is None:  # the shown rows' links, one query per type
            rows = self.page.object_list if self.page else self.rows
            self._links = object_links((r.record.object_type, r.record.object_id) for r in rows)
        return self._links.get((record.object_type, record.object_id))

    def render_id(self, record: ExceptionItem) -> str:
        return format_html('<a href="/exceptions/{}/">#{}</a>', record.pk, record.pk)

    def value_id(self, record: ExceptionItem) -> int:
        return record.pk

    def render_kind(self, value: str) -> str:
        return format_html('{}<br><span class="muted">{}</span>', reason(value), value)

    def value_kind(self, value: str) -> str:
        return value

    def render_reason(self, value: str) -> str:
        return value if len(value) <= 220 else value[:219] + "…"

    def value_reason(self, value: str) -> str:
        return value

    def render_concerns(self, record: ExceptionItem) -> str:
        link = self.link(record)
        if link is None:
            return record.object_label or "—"
        named = format_html('<a href="{}" data-object>{}</a>', link.url, link.label)
        if record.object_label and record.object_label != link.label:
            return format_html('{}<br><span class="muted">{}</span>', named, record.object_label)
        return named

    def value_concerns(self, record: ExceptionItem) -> str:
        link = self.link(record)
        return link.label if link else record.object_label

    def render_due(self, record: ExceptionItem) -> str:
        due = when(due_at(record))
        if is_overdue(record, self.now):
            return format_html('<mark class="overdue">overdue since {}</mark>', due)
        return due

    def value_due(self, record: ExceptionItem) -> str:
        return when(due_at(record))

    def render_occurrences(self, value: int) -> str:
        return f"{value}×"

    def value_occurrences(self, value: int) -> int:
        return value


@staff_required
def exception_queue(request: HttpRequest) -> HttpResponse:
    params = request.GET.copy()
    if "status" not in params:
        params["status"] = "open"
    filtered = ExceptionPageFilter(params, queryset=exceptions_listed(), request=request)
    shown = listing(request, filtered=filtered, table_class=ExceptionTable, filename="exceptions")
    if not isinstance(shown, Listing):
        return shown
    now = timezone.now()
    aging = exceptions_aging(ExceptionItem.objects.filter(status=ExceptionItem.Status.OPEN), now)
    bucket_totals = [sum(row["buckets"][i] for row in aging) for i in range(len(AGING_BUCKETS))]
    peak = max([*bucket_totals, 1])
    return render(
        request,
        "exceptions.html",
        {
            "filter": filtered,
            "table": shown.table,
            "aging": aging,
            "buckets": [
                {"label": name, "count": n, "width": round(100 * n / peak)}
                for (name, _, _), n in zip(AGING_BUCKETS, bucket_totals, strict=True)
            ],
            "now": now,
            "reasons": reasons_by_domain(),
            "sla": sla_hours(),
            "owners": owner_choices()[2:],
        },
    )


class BulkForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("assign_me", "Assign to me"),
            ("assign", "Assign to…"),
            ("unassign", "Unassign"),
            ("resolved", "Resolve"),
            ("ignored", "Ignore"),
        ]
    )
    owner = forms.CharField(required=False, max_length=150)
    resolution = forms.CharField(required=False, max_length=4000)
    pk = forms.TypedMultipleChoiceField(coerce=int, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        chosen = self.data.getlist("pk") if hasattr(self.data, "getlist") else []
        pk = self.fields["pk"]
        assert isinstance(pk, forms.TypedMultipleChoiceField)
        pk.choices = [(v, v) for v in chosen]


@staff_required
@require_POST
def exceptions_bulk(request: HttpRequest) -> HttpResponse:
    back = safe_next(request, request.POST.get("next")) or "exception-queue"
    form = BulkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose what to do with the selected exceptions.")
        return redirect(back)
    data = form.cleaned_data
    action, ids = data["action"], data["pk"]
    try:
        if action in ("resolved", "ignored"):
            done = exceptions_close(
                ids=ids, user=request.user, status=action, resolution=data["resolution"]
            ).summary(f"{action}: {data['resolution'].strip()}")
        else:
            owner = {"assign_me": request.user, "unassign": None}.get(action)
            if action == "assign":
                owner = owner_named(data["owner"] or None)
            who = owner.get_username() if owner else "nobody"
            done = exceptions_assign(ids=ids, owner=owner).summary(f"assigned to {who}")
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    messages.success(request, done[0].upper() + done[1:] + ".")
    audit_note(request, done)
    return redirect(back)


@staff_required
def exception_detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(exceptions_listed(), pk=pk)
    link = object_links([(item.object_type, item.object_id)]).get(
        (item.object_type, item.object_id)
    )
    return render(
        request,
        "exception.html",
        {
            "x": item,
            "link": link,
            "due": due_at(item),
            "overdue": is_overdue(item, timezone.now()),
            "owners": owner_choices()[2:],
            "comments": item.comments.all(),
        },
    )


@staff_required
@require_POST
def exception_assign_form(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(ExceptionItem, pk=pk)
    try:
        wanted = request.POST.get("owner", "")
        owner = request.user if wanted == "me" else owner_named(wanted or None)
        exception_assign(item_id=pk, owner=owner)
        who = owner.get_username() if owner else "nobody"
        messages.success(request, f"Exception #{pk} assigned to {who}.")
        audit_note(request, f"exception {pk} assigned to {who}")
    except DomainError as exc:
        messages.error(request, str(exc))
    return redirect(safe_next(request, request.POST.get("next")) or f"/exceptions/{pk}/")


@staff_required
@require_POST
def exception_comment_form(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(ExceptionItem, pk=pk)
    try:
        exception_comment_add(item_id=pk, author=request.user, text=request.POST.get("text", ""))
        messages.success(request, f"Comment added to exception #{pk}.")
        audit_note(request, f"comment on exception {pk}")
    except DomainError as exc:
        messages.error(request, str(exc))
    return redirect(f"/exceptions/{pk}/")


@staff_required
@require_POST
def exception_close_form(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(ExceptionItem, pk=pk)
    try:
        item = exception_close(
            item=item,
            user=request.user,
            status=request.POST.get("status", ""),
            resolution=request.POST.get("resolution", ""),
        )
        messages.success(request, f"Exception {pk} {request.POST.get('status')}.")
        audit_note(request, close_outcome(item))
    except DomainError as exc:
        messages.error(request, str(exc))
    return redirect(safe_next(request, request.POST.get("next")) or "exception-queue")
