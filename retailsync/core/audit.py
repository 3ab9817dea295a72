"""An audit record of every write a person makes (back office, admin, staff API), and of the
writes a channel makes with its token outside its own inbound messages (shipments,
cancellations): who, when, the business action asked for, and what came of it.

A middleware sees every request whatever view served it, so no write path can forget to audit.

The record and the write commit together, or neither does. The middleware opens the request's
transaction (`transaction.atomic()` around the view) and writes the record inside it, after the
view answered. Written after the view's own commit (as it once was), a record that failed to
insert (a NUL in the body) left a kept write unrecorded behind a 500; written before the view,
it would record writes that then failed. What the one transaction means for the code it wraps:
- a service's own `transaction.atomic()` becomes a savepoint: its rollback on an error is still
  its own, and a view that catches a DomainError goes on in a sound transaction;
- `select_for_update()` locks are held until the request commits, a little after the service
  returns (while the view renders its answer);
- `transaction.on_commit` hooks (publishing to Celery) run once the request commits, so a task
  never sees a write before its record; none of them may fail the request (retailsync.core.publish);
- a view must not call an outside system while it runs (house style): that is a task's job;
- a service that opens `atomic(savepoint=False)` and lets an error out dooms the request's
  transaction: the middleware then answers 500 and records the attempt as failed.
A refused attempt (4xx, or a back-office form that said why not) commits what the view chose to
keep, such as an exception queued for a person, with a record that says refused and why. A
failed one (5xx) is rolled back whole and recorded on its own afterwards as failed.

What a record says: `action` defaults to the URL's name (`return-refund (pk=4)`; in the admin,
`change channel 5`), `outcome` to the status (`200 OK`), the messages the page showed, or the
reasons of a refusal. Views say it in business terms with `audit_note(request, "refund approved
for RMA-4: 28.42 USD")`.

Channel order, batch and refund deliveries are not wrapped: they are kept whole in the inbound
message store, committed on their own whatever happens next.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.contrib.messages import constants as message_levels
from django.contrib.messages.storage.fallback import FallbackStorage
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import strip_tags

from .correlation import get_correlation_id
from .errors import DomainError, TooLarge, error_body
from .guards import takes_forms
from .models import AuditRecord, Channel
from .parsers import body_size, json_loads

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Channel deliveries: machines, not people, kept whole in the inbound store already.
CHANNEL_TRAFFIC = re.compile(r"^/api/v1/channels/[^/]+/(orders(/batch)?|refunds)$")
SECRET_WORDS = ("password", "token", "secret", "csrfmiddlewaretoken")
OUTCOME_MAX = 2000


@dataclass
class AuditNote:
    """What the record of the current request will say, beyond the request itself."""

    summary: dict[str, Any]
    action: str = ""
    outcome: str = ""
    channel: Channel | None = None
    messages: list[tuple[int, str]] = field(default_factory=list)


def _note(request: Any) -> AuditNote | None:
    return getattr(getattr(request, "_request", request), "audit", None)


def audit_note(request: Any, outcome: str, *, action: str = "") -> None:
    """Say what the write did, in business terms (`refund approved for RMA-4: 28.42 USD`). It
    is the record's outcome when the write succeeds; a refusal records its reasons instead."""
    note = _note(request)
    if note is not None:  # not an audited request: nothing to say it to
        note.outcome = outcome
        note.action = action or note.action


def audit_channel(request: Any, channel: Channel) -> None:
    """The write is the channel's, made with its token: the channel is its actor."""
    note = _note(request)
    if note is not None:
        note.channel = channel


class AuditedMessageStorage(FallbackStorage):
    """Django's message storage, remembering what a write's page told the person: the outcome
    of a back-office or admin write (an error message means it was refused)."""

    def add(self, level: int, message: Any, extra_tags: str | None = "") -> None:
        super().add(level, message, extra_tags)
        note = _note(self.request)
        if note is not None and level >= message_levels.INFO:
            note.messages.append((level, strip_tags(str(message))))  # the admin links names


def _clean(text: str) -> str:
    """Text PostgreSQL can store: NUL and lone surrogates written out as escapes."""
    return text.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode()


def _redacted(data: dict[str, Any]) -> dict[str, Any]:
    return {
        k: "***" if any(word in k.lower() for word in SECRET_WORDS) else v for k, v in data.items()
    }


def _summary(request: HttpRequest) -> dict[str, Any]:
    """What the body said: its JSON, or its form's fields where its view reads a form."""
    size = body_size(request)
    if size > settings.RETAILSYNC_STAFF_BODY_MAX and request.content_type != "multipart/form-data":
        return {"body": f"({size} bytes: over the limit, not read)"}
    if request.content_type == "application/json":
        try:
            body = json_loads(request.body or b"{}")
        except DomainError as exc:
            return {"body": f"(refused: {exc})"}
        return {"body": _redacted(body) if isinstance(body, dict) else body}
    if takes_forms(request) and request.POST:
        return {
            "form": _redacted(
                {
                    _clean(k): [_clean(v) for v in values] if len(values) > 1 else _clean(values[0])
                    for k, values in request.POST.lists()
                    if values
                }
            )
        }
    return {}


class AuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.method not in WRITE_METHODS
            or CHANNEL_TRAFFIC.match(request.path)
            or request.path == settings.LOGIN_URL
        ):
            return self.get_response(request)
        note = AuditNote(summary=_summary(request))  # read before the view consumes the stream
        request.audit = note  # type: ignore[attr-defined]
        with transaction.atomic():
            response = _form_over_limit(request) or self.get_response(request)
            if response.status_code < 500 and not transaction.get_rollback():
                _record(request, response, note)  # with the write: both commit, or neither
                return response
            transaction.set_rollback(True)
        # Failed: nothing of the attempt was kept. Say so, on its own.
        if response.status_code < 500:  # a transaction doomed under an answer of success
            response = _internal_error()
        _record(request, response, note)
        return response


def _form_over_limit(request: HttpRequest) -> HttpResponse | None:
    """A back-office or admin form over the staff limit: 413, unread. (The staff API refuses
    one in its parser, once it knows who sent it; uploaded files are not counted.)"""
    size, limit = body_size(request), settings.RETAILSYNC_STAFF_BODY_MAX
    if (
        size <= limit
        or request.path.startswith("/api/")
        or request.content_type == "multipart/form-data"
    ):
        return None
    return JsonResponse(error_body(TooLarge(size=size, limit=limit).as_dicts()), status=413)


def _internal_error() -> HttpResponse:
    body = error_body([{"field": "", "message": "internal error; nothing was kept"}])
    return JsonResponse(body, status=500)


def _record(request: HttpRequest, response: HttpResponse, note: AuditNote) -> None:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        actor, channel, name = user, None, user.get_username()
    elif note.channel is not None:
        actor, channel, name = None, note.channel, f"channel {note.channel.code}"
    else:
        return  # nobody we know: refused before it reached a view that could tell
    path = request.path
    result, outcome = _outcome(request, response, note)
    AuditRecord.objects.create(
        actor=actor,
        channel=channel,
        actor_name=name,
        via=_via(path),
        method=request.method or "",
        path=_clean(path)[:500],
        status_code=response.status_code,
        action=_clean(note.action or _default_action(request))[:200],
        result=result,
        outcome=_clean(outcome)[:OUTCOME_MAX],
        summary=note.summary,
        correlation_id=get_correlation_id(),
    )


def _via(path: str) -> str:
    if path.startswith("/admin/"):
        return "admin"
    return "api" if path.startswith("/api/") else "backoffice"


def _outcome(request: HttpRequest, response: HttpResponse, note: AuditNote) -> tuple[str, str]:
    status = response.status_code
    if status >= 500:
        return AuditRecord.Result.FAILED, f"failed ({status}): nothing was kept"
    reasons = _refusal_reasons(request, response, note)
    if status >= 400 or reasons:
        return AuditRecord.Result.REFUSED, f"refused ({status}): " + (
            "; ".join(reasons) or _phrase(status)
        )
    told = "; ".join(text for _, text in note.messages)
    return AuditRecord.Result.DONE, note.outcome or told or f"{status} {_phrase(status)}"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _refusal_reasons(request: HttpRequest, response: HttpResponse, note: AuditNote) -> list[str]:
    """Why the write was refused: the API's errors, the page's error messages, or the errors of
    an admin form shown again (a POST answered 200)."""
    errors = _api_errors(response)
    if errors is not None:
        return [
            f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message"))
            for e in errors
        ]
    reasons = [text for level, text in note.messages if level >= message_levels.ERROR]
    context = getattr(response, "context_data", None) or {}
    form = getattr(context.get("adminform"), "form", None)
    if response.status_code == 200 and form is not None and form.errors:
        reasons += [
            f"{name}: {message}" if name != "__all__" else str(message)
            for name, messages in form.errors.items()
            for message in messages
        ]
    return reasons


def _api_errors(response: HttpResponse) -> list[dict[str, Any]] | None:
    data = getattr(response, "data", None)
    if data is None and response.get("Content-Type", "").startswith("application/json"):
        try:
            data = json.loads(response.content)
        except (ValueError, AttributeError):
            return None
    errors = data.get("errors") if isinstance(data, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else None


def _default_action(request: HttpRequest) -> str:
    match = request.resolver_match
    if match is None:
        return f"{request.method} {request.path}"
    model_admin = getattr(match.func, "model_admin", None)
    if model_admin is not None:
        return _admin_action(request, match.url_name or "", model_admin, match.kwargs)
    return f"{match.url_name or match.view_name}" + _arguments(match.kwargs.items())


def _arguments(pairs: Iterable[tuple[str, Any]]) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in pairs)
    return f" ({shown})" if shown else ""


def _admin_action(
    request: HttpRequest, url_name: str, model_admin: Any, kwargs: dict[str, Any]
) -> str:
    meta = model_admin.model._meta
    view = url_name.rsplit("_", 1)[-1]
    if view == "changelist" and request.POST.get("action"):
        selected = len(request.POST.getlist("_selected_action"))
        return f"{request.POST['action']} on {meta.verbose_name_plural} ({selected} selected)"
    return " ".join(
        str(part) for part in (view, meta.verbose_name, kwargs.get("object_id", "")) if part
    )
