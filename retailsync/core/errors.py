"""One error vocabulary for the whole API (API.md): `{"errors": [{"field", "message"}]}`.

Services raise `DomainError` subclasses; the one DRF exception handler renders them, DRF's own
exceptions, and anything unexpected in that shape. Status codes: malformed input 400, a broken
business rule 422, a transition that is not allowed 409, something missing 404, a body over the
size limit 413.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import DataError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

logger = logging.getLogger(__name__)
# PostgreSQL's refusals of what a caller sent, by SQLSTATE. Each number can be in range and their
# sum not (two receipts of 2**31 - 1 units): a broken rule, 422.
DATA_REFUSALS = {
    "22001": (400, "a text is longer than can be stored"),
    "22003": (422, "a number would be larger than can be stored"),
}


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class DomainError(Exception):
    status_code = 422

    def __init__(self, errors: Iterable[FieldError] | str, *, field: str = ""):
        self.errors = [FieldError(field, errors)] if isinstance(errors, str) else list(errors)
        super().__init__(
            "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in self.errors)
        )

    def as_dicts(self) -> list[dict[str, str]]:
        return [e.as_dict() for e in self.errors]


class Malformed(DomainError):
    status_code = 400


class BusinessRuleViolation(DomainError):
    status_code = 422


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Forbidden(DomainError):
    status_code = 403


class TooLarge(DomainError):
    """A body over the endpoint's documented size limit (413), refused before it is read."""

    status_code = 413

    def __init__(self, *, size: int, limit: int):
        self.size, self.limit = size, limit
        super().__init__(f"body of {size} bytes is over the limit of {limit} bytes")


def error_body(errors: list[dict[str, str]]) -> dict[str, Any]:
    return {"errors": errors}


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested serializer errors to a flat list with paths like `lines[0].quantity`."""
    if isinstance(detail, dict):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
            if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                path = f"{prefix}[{key}]"
            elif key in {"non_field_errors", "detail"}:
                path = prefix
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            out += _flatten(value, path)
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                if value:
                    out += _flatten(value, f"{prefix}[{index}]")
            else:
                out += _flatten(value, prefix)
        return out
    return [{"field": prefix, "message": str(detail)}]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, RequestDataTooBig):
        # Django's own ceiling, met by a view that read a body whole without checking its size.
        request = context["request"]
        exc = TooLarge(
            size=int(request.META.get("CONTENT_LENGTH") or 0),
            limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
        )
    if isinstance(exc, DomainError):
        return Response(error_body(exc.as_dicts()), status=exc.status_code)
    if isinstance(exc, DataError) and (
        refusal := DATA_REFUSALS.get(getattr(exc.__cause__, "sqlstate", None) or "")
    ):
        # The backstop behind input validation: the service's transaction has rolled back, and
        # the caller hears why instead of a 500.
        status, message = refusal
        return Response(error_body([{"field": "", "message": message}]), status=status)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, drf.APIException):
        headers = {}
        if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
            headers["WWW-Authenticate"] = "Token"
        wait = getattr(exc, "wait", None)
        if isinstance(exc, drf.Throttled) and wait:
            headers["Retry-After"] = str(int(wait))
        return Response(error_body(_flatten(exc.detail)), status=exc.status_code, headers=headers)
    logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
    return Response(
        error_body([{"field": "", "message": "internal error; it has been logged"}]), status=500
    )
