"""Back-office pages for returns: the queue by status and age; one return with its timeline and
only the transitions its state allows; receive and inspect forms for store and warehouse staff;
and the refund quote finance reads and confirms before anything is refunded."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from inventory.models import Location
from retailsync.core.audit import audit_note
from retailsync.core.errors import DomainError
from retailsync.core.registry import panels
from retailsync.core.roles import has_role
from retailsync.core.tables import Listing, listing
from retailsync.core.templatetags.money import money
from retailsync.core.views import staff_required

from . import services
from .api import returns_with_details, transition_outcome
from .forms import InspectForm, NoteForm, ReceiveForm, RefundForm
from .models import Return
from .quote import ZERO, Reversal, jurisdiction_of, refund_quote
from .rules import ACTIONS, actions_offered, actor_of, refusal, roles_for
from .selectors import received_at, receiving_location
from .tables import OPEN, ReturnPageFilter, ReturnTable

S = Return.Status
# How a page offers each transition: a button that posts at once, a link to its own form
# page, or a button of the note form (reject and cancel say why).
_OFFER = {
    "authorize": ("post", "Authorize"),
    "receive": ("page", "Receive goods…"),
    "inspect": ("page", "Record inspection…"),
    "refund": ("page", "Review refund…"),
    "close": ("post", "Close"),
    "reject": ("note", "Reject"),
    "cancel": ("note", "Cancel return"),
}


@staff_required
def return_queue(request: HttpRequest) -> HttpResponse:
    params = request.GET.copy()
    if "status" not in params:
        params["status"] = OPEN
    filtered = ReturnPageFilter(
        params, queryset=Return.objects.select_related("order", "channel").order_by("created_at")
    )
    shown = listing(request, filtered=filtered, table_class=ReturnTable, filename="returns")
    if not isinstance(shown, Listing):
        return shown
    counts = dict(Return.objects.values_list("status").annotate(n=Count("pk")))
    return render(
        request,
        "returns/queue.html",
        {
            "filter": filtered,
            "table": shown.table,
            "counts": [(s, counts.get(s, 0)) for s in Return.Status.values],
        },
    )


def _return(pk: int) -> Return:
    return get_object_or_404(returns_with_details().select_related("order", "channel"), pk=pk)


@staff_required
def return_detail(
    request: HttpRequest, pk: int, note_form: NoteForm | None = None, status: int = 200
) -> HttpResponse:
    ret = _return(pk)
    lines = list(ret.lines.all())
    offered = actions_offered(ret, request.user, lines)
    settled = ret.status in (S.REFUNDED, S.CLOSED, S.REJECTED, S.CANCELLED)
    return render(
        request,
        "returns/detail.html",
        {
            "ret": ret,
            "lines": [(line, received_at(line)) for line in lines],
            "timeline": ret.transitions.order_by("at", "pk"),
            "offered": [(a, *_OFFER[a]) for a in offered],
            "ends": [(a, _OFFER[a][1]) for a in offered if _OFFER[a][0] == "note"],
            "note_form": note_form or NoteForm(),
            "quote": None if settled else refund_quote(ret),
            # Sections of apps above returns (journals: the lines the return fed).
            "panels": panels(request, page="return", object_id=ret.pk),
        },
        status=status,
    )


@staff_required
def return_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """GET: the action's form page (receive, inspect, refund). POST: the transition."""
    if action not in ACTIONS:
        raise Http404(action)
    ret = _return(pk)
    if not has_role(request.user, *roles_for(action)):
        messages.error(
            request, f"only {' or '.join(roles_for(action))} staff may {action} a return"
        )
        return redirect("return-detail-page", pk=pk)
    why = refusal(ret, action, list(ret.lines.all()))
    kind = _OFFER[action][0]
    if why and (request.method == "GET" or kind != "page"):
        messages.error(request, why)
        return redirect("return-detail-page", pk=pk)
    if kind == "page":
        return _FORM_PAGES[action](request, ret)
    if request.method != "POST":
        return redirect("return-detail-page", pk=pk)
    user = actor_of(request.user)
    note = NoteForm(request.POST) if kind == "note" else None
    if note is not None and not note.is_valid():
        page: HttpResponse = return_detail(request, pk=pk, note_form=note, status=400)
        return page
    try:
        match action:
            case "authorize":
                services.return_authorize(return_id=pk, actor=user)
            case "close":
                services.return_close(return_id=pk, actor=user)
            case "reject" if note:
                services.return_reject(return_id=pk, actor=user, note=note.cleaned_data["note"])
            case "cancel" if note:
                services.return_cancel(return_id=pk, actor=user, note=note.cleaned_data["note"])
        messages.success(request, f"RMA-{pk}: {action} done.")
        audit_note(request, transition_outcome(Return.objects.get(pk=pk), action))
    except DomainError as exc:
        messages.error(request, str(exc))
    return redirect("return-detail-page", pk=pk)


def _form_page(
    request: HttpRequest,
    ret: Return,
    action: str,
    form: forms.Form,
    perform: Callable[[], str],
    context: Callable[[], dict[str, Any]] = dict,
) -> HttpResponse:
    """Make the transition when the posted form is valid and go back to the return; else the
    page again, with the form's errors (400) or the service's refusal (its status)."""
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                done = perform()
            except DomainError as exc:
                status = exc.status_code
                for e in exc.errors:
                    form.add_error(None, e.message)
            else:
                messages.success(request, f"RMA-{ret.pk}: {done}")
                audit_note(request, transition_outcome(Return.objects.get(pk=ret.pk), action))
                return redirect("return-detail-page", pk=ret.pk)
    return render(
        request, f"returns/{action}.html", {"ret": ret, "form": form, **context()}, status=status
    )


def _receive_page(request: HttpRequest, ret: Return) -> HttpResponse:
    form = ReceiveForm(
        request.POST or None,
        lines=list(ret.lines.all()),
        locations=Location.objects.filter(is_active=True).order_by("code"),
        start_at=receiving_location(ret, actor_of(request.user)),
    )

    def perform() -> str:
        parcel, location = form.parcel(), form.cleaned_data["location"]
        services.return_receive(
            return_id=ret.pk, actor=actor_of(request.user), location=location, lines=parcel
        )
        return f"{sum(x.quantity for x in parcel)} unit(s) received at {location}."

    return _form_page(request, ret, "receive", form, perform)


def _inspect_page(request: HttpRequest, ret: Return) -> HttpResponse:
    form = InspectForm(request.POST or None, lines=list(ret.lines.all()))

    def perform() -> str:
        decisions = form.decisions()
        services.return_inspect(
            return_id=ret.pk,
            actor=actor_of(request.user),
            location=form.cleaned_data["location"],
            lines=decisions,
        )
        return f"{sum(sum(d.counts().values()) for d in decisions)} unit(s) inspected."

    return _form_page(request, ret, "inspect", form, perform)


def _refund_page(request: HttpRequest, ret: Return) -> HttpResponse:
    """The quote, then the confirmation of exactly that amount: if the figures change in
    between, the service refuses (409) and the page shows the new quote to confirm."""
    form = RefundForm(request.POST or None, initial={"method": ret.refund_method})

    def perform() -> str:
        services.return_refund(
            return_id=ret.pk,
            actor=actor_of(request.user),
            method=form.cleaned_data["method"],
            expected_amount=form.cleaned_data["expected_amount"],
        )
        done = Return.objects.get(pk=ret.pk)
        return f"Refunded {money(done.refund_amount, done.currency)} {done.currency}."

    def quote() -> dict[str, Any]:
        q = refund_quote(ret)
        places = [j for j, _ in q.by_jurisdiction()]

        def per_place(reversals: list[Reversal]) -> list[Decimal]:
            return [sum((a for t, a in reversals if jurisdiction_of(t) == j), ZERO) for j in places]

        return {
            "quote": q,
            "jurisdictions": places,
            "rows": [(x, per_place(x.reversals)) for x in q.lines],
            "shipping_taxes": per_place(q.shipping_reversals),
            "shipping_total": q.shipping + q.shipping_tax,
        }

    return _form_page(request, ret, "refund", form, perform, quote)


_FORM_PAGES = {"receive": _receive_page, "inspect": _inspect_page, "refund": _refund_page}
