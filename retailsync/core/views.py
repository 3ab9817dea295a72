"""Back-office pages of the core: who may see them, and the trace. The exception workbench is
in `workbench_views`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from .guards import refused
from .registry import ObjectLink, object_links
from .roles import has_role, user_roles
from .selectors import TraceEntry, trace_timeline


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
def trace_page(request: HttpRequest, correlation_id: str) -> HttpResponse:
    return render(
        request,
        "trace.html",
        {
            "correlation_id": correlation_id,
            "entries": trace_linked(trace_timeline(correlation_id)),
        },
    )


def trace_linked(entries: list[TraceEntry]) -> list[tuple[TraceEntry, ObjectLink | None]]:
    """Each entry with the page of the record it is about, named as people know it."""
    links = object_links(e.about for e in entries)
    return [(e, links.get(e.about)) for e in entries]
