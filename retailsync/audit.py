"""An audit record of every write a person makes: back office, admin or staff API.

A middleware sees every request whatever view served it, so no write path can forget to audit.
Channel traffic is not a person's write; it is kept whole in the inbound message store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from .correlation import get_correlation_id
from .guards import nul_path

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Channel deliveries: machines, not people, and kept whole in the inbound store already.
CHANNEL_TRAFFIC = re.compile(r"^/api/v1/channels/[^/]+/orders(/batch)?$")
SECRET_WORDS = ("password", "token", "secret", "csrfmiddlewaretoken")


def _redacted(data: dict[str, Any]) -> dict[str, Any]:
    return {
        k: "***" if any(word in k.lower() for word in SECRET_WORDS) else v for k, v in data.items()
    }


def _summary(request: HttpRequest) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return {"body": "(not JSON)"}
        if nul_path(body) is not None:  # refused with 400; PostgreSQL could not store it either
            return {"body": "(text with NUL)"}
        return {"body": _redacted(body) if isinstance(body, dict) else body}
    if request.POST:
        return {
            "form": _redacted(
                {
                    k: request.POST.getlist(k)
                    if len(request.POST.getlist(k)) > 1
                    else request.POST.get(k)
                    for k in request.POST
                }
            )
        }
    return {}


class AuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in WRITE_METHODS or CHANNEL_TRAFFIC.match(request.path):
            return self.get_response(request)
        summary = _summary(request)  # read before the view consumes the stream
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and request.path != "/login/":
            from .models import AuditRecord

            path = request.path
            AuditRecord.objects.create(
                actor=user,
                actor_name=user.get_username(),
                via="admin"
                if path.startswith("/admin/")
                else "api"
                if path.startswith("/api/")
                else "backoffice",
                method=request.method or "",
                path=path[:500],
                status_code=response.status_code,
                summary=summary,
                correlation_id=get_correlation_id(),
            )
        return response
