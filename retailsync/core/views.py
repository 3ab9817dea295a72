"""Back-office pages of the core: the exception queue with its aging, and the trace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .api import ExceptionFilter, close_outcome
from .audit import audit_note
from .errors import DomainError
from .guards import refused
from .models import ExceptionItem
from .roles import has_role, user_roles
from .selectors import AGING_BUCKETS, exceptions_aging, trace_timeline
from .services import exception_close


def staff_required(view: Any) -> Any:
    """Logged in and holding a role; others go to the login page."""

    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not user_roles(request.user):
            return render(request, "no_role.html", status=403)
        response: HttpResponse = view(request, *args, **kwargs)
        return response

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


PageView = Callable[..., HttpResponse]


def roles_required(*roles: str) -> Callable[[PageView], PageView]:
    """Logged in and holding one of `roles` (admin always may); another role gets 403."""

    def decorate(view: PageView) -> PageView:
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_role(request.user, *roles):
                return refused(
                    request, 403, f"this page is for {' or '.join([*roles, 'admin'])} staff"
                )
            response: HttpResponse = view(request, *args, **kwargs)
            return response

        wrapped.__name__ = view.__name__
        wrapped.__doc__ = view.__doc__
        guarded: PageView = staff_required(wrapped)
        return guarded

    return decorate


def safe_next(request: HttpRequest, target: str | None) -> str | None:
    """Where a form may send the user back to: a path on this site, never another site."""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


@staff_required
def exception_queue(request: HttpRequest) -> HttpResponse:
    params = request.GET.copy()
    if "status" not in params:
        params["status"] = "open"
    filtered = ExceptionFilter(
        params,
        queryset=ExceptionItem.objects.select_related("channel", "resolved_by").order_by(
            "-created_at"
        ),
    )
    now = timezone.now()
    aging = exceptions_aging(ExceptionItem.objects.filter(status=ExceptionItem.Status.OPEN), now)
    bucket_totals = [sum(row["buckets"][i] for row in aging) for i in range(len(AGING_BUCKETS))]
    peak = max([*bucket_totals, 1])
    page = Paginator(filtered.qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "exceptions.html",
        {
            "filter": filtered,
            "page": page,
            "aging": aging,
            "buckets": [
                {"label": name, "count": n, "width": round(100 * n / peak)}
                for (name, _, _), n in zip(AGING_BUCKETS, bucket_totals, strict=True)
            ],
            "now": now,
            "query": params.urlencode(),
        },
    )


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


@staff_required
def trace_page(request: HttpRequest, correlation_id: str) -> HttpResponse:
    return render(
        request,
        "trace.html",
        {
            "correlation_id": correlation_id,
            "entries": trace_timeline(correlation_id),
        },
    )
