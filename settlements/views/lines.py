"""One settlement line: its raw record, the orders it might be (candidates.py), and what a
person decides: match it to one of them, unmatch it, or write it off with a reason."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from orders.models import Order
from retailsync.core.audit import audit_note
from retailsync.core.errors import DomainError
from retailsync.core.registry import panels
from retailsync.core.templatetags.money import money
from retailsync.core.views import roles_required

from ..candidates import WINDOW, line_candidates, line_date
from ..forms import MatchForm, NoteForm, WriteOffForm
from ..matching.actions import line_match, line_unmatch, line_write_off
from ..models import Outcome, SettlementLine

finance_page = roles_required("finance")
ACTIONS = ("match", "unmatch", "write-off")


def _line(pk: int) -> SettlementLine:
    return get_object_or_404(
        SettlementLine.objects.select_related("batch__channel", "batch__legal_entity", "order"),
        pk=pk,
    )


def _page(
    request: HttpRequest,
    line: SettlementLine,
    *,
    write_off: WriteOffForm | None = None,
    status: int = 200,
) -> HttpResponse:
    offer = not line.batch.is_statement and line.outcome in (Outcome.UNMATCHED, Outcome.VARIANCE)
    return render(
        request,
        "settlements/line.html",
        {
            "line": line,
            "batch": line.batch,
            "date": line_date(line),
            "window_days": WINDOW.days,
            "candidates": line_candidates(line) if offer else [],
            "offer": offer,
            "can_unmatch": line.outcome != Outcome.UNMATCHED,
            "can_write_off": line.outcome != Outcome.WRITTEN_OFF,
            "note_form": NoteForm(),
            "write_off_form": write_off or WriteOffForm(),
            # Sections of apps above settlements (journals: the lines the line fed).
            "panels": panels(request, page="settlement_line", object_id=line.pk),
        },
        status=status,
    )


@finance_page
def line_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _page(request, _line(pk))


def _label(line: SettlementLine) -> str:
    return f"line {line.row} of {line.batch} ({money(line.net, line.currency)} {line.currency})"


@finance_page
@require_POST
def line_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404(action)
    line = _line(pk)
    user, now = request.user, timezone.now()
    try:
        if action == "match":
            form: forms.Form = MatchForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Choose an order to match the line to.")
                return redirect("settlement-line-page", pk=pk)
            order = Order.objects.filter(pk=form.cleaned_data["order"]).first()
            if order is None:
                messages.error(request, f"Order {form.cleaned_data['order']} does not exist.")
                return redirect("settlement-line-page", pk=pk)
            line_match(line, order=order, user=user, note=form.cleaned_data["note"], now=now)  # type: ignore[arg-type]
            done = f"{_label(line)} matched to order {order.order_number or order.external_id}."
        elif action == "unmatch":
            form = NoteForm(request.POST)
            note = form.cleaned_data["note"] if form.is_valid() else ""
            line_unmatch(line, user=user, note=note, now=now)  # type: ignore[arg-type]
            done = f"{_label(line)} unmatched."
        else:
            write_off = WriteOffForm(request.POST)
            if not write_off.is_valid():
                return _page(request, line, write_off=write_off, status=400)
            reason = write_off.cleaned_data["reason"]
            line_write_off(line, user=user, reason=reason, now=now)  # type: ignore[arg-type]
            done = f"{_label(line)} written off: {reason.strip()}"
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("settlement-line-page", pk=pk)
    messages.success(request, done)
    audit_note(request, done)
    return redirect("settlement-line-page", pk=pk)
