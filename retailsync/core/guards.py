"""What every request passes before a view reads it, and what the API answers when no view does.

- NUL (`\\x00`, `%00`) in a path, a query or a form body is refused with 400, once, here:
  PostgreSQL text cannot hold it, and a filter or a path that carries one would otherwise fail
  in the database (500). NUL inside a JSON body is refused by the JSON parser, naming the field
  (`nul_path`); a channel's own payload by its ingestion, which keeps the raw message.
- Query parameters that are integers are read with `query_int`: ASCII digits only (`"²"` passes
  `str.isdigit()` and then fails `int()`), within documented bounds, else 400 naming the
  parameter.
- Under `/api/` every answer is JSON in API.md's error shape, also for a path that matches no
  endpoint (404) and for what Django itself refuses (400, 403, 500); elsewhere Django's pages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.views import defaults
from rest_framework.views import APIView

from .errors import Malformed, error_body

API_PREFIX = "/api/"
NUL = "\x00"
NUL_MESSAGE = "text must not contain NUL characters (\\u0000)"
# PostgreSQL's bigint: the widest integer a query parameter may reach the database with.
BIGINT_MAX = 2**63 - 1
_DIGITS = re.compile(r"[0-9]+")
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def query_int(
    params: Mapping[str, str], name: str, *, default: int, minimum: int, maximum: int
) -> int:
    """The integer query parameter `name` (absent or empty: `default`), else 400 naming it."""
    text = params.get(name, "")
    if text == "":
        return default
    if not _DIGITS.fullmatch(text) or not minimum <= int(text) <= maximum:
        raise Malformed(f"an integer from {minimum} to {maximum}", field=name)
    return int(text)


def nul_path(value: Any, path: str = "") -> str | None:
    """Where the first NUL is in parsed JSON (`lines[0].sku`), or None."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, child in value.items():
            if NUL in key:
                return path
            found = nul_path(child, f"{path}.{key}".lstrip("."))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, child in enumerate(value):
            found = nul_path(child, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _nul_key(form: QueryDict) -> str | None:
    """The first parameter of `form` with a NUL in its name or a value, or None."""
    for key, values in form.lists():
        if NUL in key or any(NUL in value for value in values):
            return key.replace(NUL, "")
    return None


def takes_forms(request: HttpRequest) -> bool:
    """Whether the request carries a form its view reads: Django's own views (the admin, the
    pages) do; an API view only when one of its parsers is a form's (the settlement upload).
    Any other view must find the body unread: a channel's keeps the raw message, and DRF
    answers a form sent to a JSON endpoint with 415 instead of taking it for an empty body."""
    if request.content_type not in FORM_TYPES:
        return False
    try:
        view = resolve(request.path_info, getattr(request, "urlconf", None)).func
    except Resolver404:
        return False  # no view: the 404 needs no body
    api_view = getattr(view, "cls", None)
    if not isinstance(api_view, type) or not issubclass(api_view, APIView):
        return True
    return any(parser.media_type in FORM_TYPES for parser in api_view.parser_classes)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def refused(request: HttpRequest, status: int, message: str, *, field: str = "") -> HttpResponse:
    """An error answer for `request`: API.md's JSON under /api/, a page elsewhere."""
    if _is_api(request):
        return JsonResponse(error_body([{"field": field, "message": message}]), status=status)
    return render(
        request, "error.html", {"status": status, "message": message, "field": field}, status=status
    )


class NulGuardMiddleware:
    """Refuses a path, query or form that carries NUL before anything reads it (400); a form
    only where its view reads one (`takes_forms`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        field = "path" if NUL in request.path else _nul_key(request.GET)
        if field is None and takes_forms(request):
            try:
                field = _nul_key(request.POST)  # the fields only: a file's bytes are its own
            except RequestDataTooBig:
                limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
                return refused(
                    request, 413, f"the form's fields are over the limit of {limit} bytes"
                )
        if field is not None:
            return refused(request, 400, NUL_MESSAGE, field=field)
        return self.get_response(request)


# Django's error views (urls.py handler400/403/404/500): JSON under /api/, pages elsewhere.


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return refused(request, 400, "the request is malformed")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return refused(request, 403, "you may not do this")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return refused(request, 404, f"no endpoint at {request.path}")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return refused(request, 500, "internal error; it has been logged")
    return defaults.server_error(request)
