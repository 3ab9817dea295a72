"""Back-office pages for returns: the queue by status and age, and one return with its timeline,
receive and inspect forms for store and warehouse staff, and refund approval for finance."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from inventory.models import Location
from retailsync.audit import audit_note
from retailsync.errors import DomainError
from retailsync.roles import has_role
from retailsync.views import staff_required

from . import services
from .api import returns_with_details, transition_outcome
from .models import Return


@staff_required
def return_queue(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    returns = Return.objects.select_related("order", "channel").order_by("created_at")
    if status:
        returns = returns.filter(status=status)
    else:
        returns = returns.filter(status__in=services.OPEN_STATUSES)
    counts = dict(Return.objects.values_list("status").annotate(n=Count("pk")))
    return render(
        request,
        "returns/queue.html",
        {
            "page": Paginator(returns, 50).get_page(request.GET.get("page")),
            "status": status,
            "now": timezone.now(),
            "query": f"status={status}",
            "counts": [(s, counts.get(s, 0)) for s in Return.Status.values],
        },
    )


@staff_required
def return_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ret = get_object_or_404(returns_with_details().select_related("order", "channel"), pk=pk)
    return render(
        request,
        "returns/detail.html",
        {
            "ret": ret,
            "timeline": ret.transitions.order_by("at", "pk"),
            "locations": Location.objects.filter(is_active=True).order_by("code"),
            "can_operate": has_role(request.user, "operations"),
            "can_refund": has_role(request.user, "finance"),
            "methods": Return.Method.choices,
        },
    )


def _lines(request: HttpRequest, ret: Return, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    for line in ret.lines.all():
        values = {f: int(request.POST.get(f"{f}-{line.pk}") or 0) for f in fields}
        if any(values.values()):
            rows.append({"line_id": line.pk, **values})
    return rows


@staff_required
@require_POST
def return_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    ret = get_object_or_404(Return, pk=pk)
    user, location = request.user, request.POST.get("location", "")
    needed = {
        "receive": "operations",
        "inspect": "operations",
        "refund": "finance",
        "close": "finance",
    }.get(action)
    try:
        if needed and not has_role(user, needed):
            raise DomainError(f"only {needed} staff may {action} a return")
        match action:
            case "authorize":
                services.return_authorize(return_id=pk, actor=user)
            case "reject":
                services.return_reject(return_id=pk, actor=user, note=request.POST.get("note", ""))
            case "cancel":
                services.return_cancel(return_id=pk, actor=user, note=request.POST.get("note", ""))
            case "receive":
                services.return_receive(
                    return_id=pk,
                    actor=user,
                    location=location,
                    lines=[
                        services.ReceiptLine(x["quantity"], x["line_id"])
                        for x in _lines(request, ret, ("quantity",))
                    ],
                )
            case "inspect":
                services.return_inspect(
                    return_id=pk,
                    actor=user,
                    location=location,
                    lines=[
                        services.Disposition(
                            **{k: x[k] for k in services.DISPOSITIONS}, line_id=x["line_id"]
                        )
                        for x in _lines(request, ret, services.DISPOSITIONS)
                    ],
                )
            case "refund":
                services.return_refund(
                    return_id=pk, actor=user, method=request.POST.get("method", "")
                )
            case "close":
                services.return_close(return_id=pk, actor=user)
            case _:
                raise DomainError(f"unknown action {action!r}")
        messages.success(request, f"RMA-{pk}: {action} done.")
        audit_note(request, transition_outcome(Return.objects.get(pk=pk), action))
    except DomainError as exc:
        messages.error(request, str(exc))
    return redirect("return-detail-page", pk=pk)
