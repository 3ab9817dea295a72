"""Correlation ids: one per inbound message, carried by everything that follows from it."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

HEADER = "X-Correlation-ID"
_current: ContextVar[str] = ContextVar("correlation_id", default="")
# A caller's id is accepted when it is a sane token; anything else gets a fresh one.
_VALID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def get_correlation_id() -> str:
    return _current.get()


def set_correlation_id(value: str) -> None:
    _current.set(value)


def ensure_correlation_id() -> str:
    """The current id, or a new one for work that did not start with a request (a command)."""
    value = _current.get()
    if not value:
        value = new_correlation_id()
        _current.set(value)
    return value


class CorrelationIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(HEADER, "")
        correlation_id = given if _VALID.match(given) else new_correlation_id()
        # Not reset afterwards: Django logs the response (django.request) after the middleware
        # chain returns, and that line should carry the id too. The next request sets its own.
        _current.set(correlation_id)
        request.correlation_id = correlation_id  # type: ignore[attr-defined]
        response = self.get_response(request)
        response[HEADER] = correlation_id
        return response


class CorrelationIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = _current.get() or "-"
        return True
