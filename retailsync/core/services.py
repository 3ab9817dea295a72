"""Writes of the integration core. Each function is one transaction (or none, where it must
survive the caller's rollback: the raw message store)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .auth import token_issue
from .correlation import ensure_correlation_id
from .db import insert_returning, values_of
from .errors import BusinessRuleViolation, Conflict, TooLarge
from .models import Channel, ExceptionItem, InboundMessage, LegalEntity
from .money import is_currency
from .registry import message_headers_for
from .roles import ROLES, roles_ensure


def legal_entity_get_or_create(*, code: str, currency: str) -> LegalEntity:
    entity, _ = LegalEntity.objects.get_or_create(
        code=code, defaults={"name": code, "currency": currency}
    )
    return entity


def channel_create(
    *,
    code: str,
    source: str,
    currency: str = "USD",
    legal_entity: str = "",
    secret: str = "",
    name: str = "",
) -> tuple[Channel, str]:
    """A channel and its first API token (returned in clear, once)."""
    errors = []
    if source not in Channel.Source.values:
        errors.append(("source", f"must be one of {', '.join(Channel.Source.values)}"))
    if not is_currency(currency):
        errors.append(("currency", f"{currency!r} is not an ISO 4217 currency"))
    if errors:
        from .errors import FieldError

        raise BusinessRuleViolation([FieldError(f, m) for f, m in errors])
    with transaction.atomic():
        entity = legal_entity_get_or_create(code=legal_entity or "default", currency=currency)
        try:
            with transaction.atomic():
                channel = Channel.objects.create(
                    code=code,
                    source=source,
                    currency=currency,
                    legal_entity=entity,
                    webhook_secret=secret,
                    name=name or code,
                )
        except IntegrityError:
            raise Conflict(f"channel {code!r} exists already", field="code") from None
        token = token_issue(channel=channel)
    return channel, token


def user_create(
    *, username: str, role: str, password: str = "", email: str = ""
) -> tuple[Any, str]:
    """A staff user with one role, and a staff API token (returned in clear, once)."""
    if role not in ROLES:
        raise BusinessRuleViolation(f"must be one of {', '.join(ROLES)}", field="role")
    user_model = get_user_model()
    with transaction.atomic():
        roles_ensure()
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"email": email}
        )
        user.is_staff = True
        user.is_superuser = role == "admin"
        if password:
            user.set_password(password)
        elif created:
            user.set_unusable_password()
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        token = token_issue(user=user)
    return user, token


def inbound_message_store(
    *,
    channel: Channel,
    kind: str,
    body: bytes,
    headers: Mapping[str, str],
    correlation_id: str,
    now: datetime | None = None,
) -> InboundMessage:
    """Keep the raw body before anything reads it. Committed on its own, so it survives whatever
    happens next. A redelivery (same channel message id) is kept too, linked to the first."""
    message = inbound_message_new(
        channel=channel,
        kind=kind,
        body=body,
        headers=headers,
        correlation_id=correlation_id,
        now=now,
    )
    if message.message_id:
        message.duplicate_of = (
            InboundMessage.objects.filter(
                channel=channel, message_id=message.message_id, duplicate_of__isnull=True
            )
            .only("pk", "status", "result")
            .order_by("pk")
            .first()
        )
    # The hot path of every delivery: one plain INSERT, no ORM compilation.
    [message.pk] = insert_returning(
        InboundMessage, _MESSAGE_FIELDS, [values_of(message, _MESSAGE_FIELDS)]
    )
    return message


def inbound_message_new(
    *,
    channel: Channel,
    kind: str,
    body: bytes,
    headers: Mapping[str, str],
    correlation_id: str,
    now: datetime | None = None,
) -> InboundMessage:
    """A message as received, not saved yet and not linked to an earlier delivery. Which
    headers identify it and which are kept, its channel's source said at start-up."""
    known = message_headers_for(channel.source)
    # One pass over what was sent, rather than a case-insensitive lookup per header we know.
    given = {name.lower(): value for name, value in headers.items()}
    kept = known.kept
    return InboundMessage(
        channel=channel,
        kind=kind,
        message_id=next((given[h] for h in known.message_id if given.get(h)), "")[:128],
        topic=next((given[h] for h in known.topic if given.get(h)), ""),
        body=body,
        content_type=given.get("content-type", "")[:100],
        headers={kept[name]: value[:500] for name, value in given.items() if name in kept},
        correlation_id=correlation_id,
        received_at=now or timezone.now(),
    )


_MESSAGE_FIELDS = (
    "channel",
    "kind",
    "message_id",
    "topic",
    "body",
    "content_type",
    "headers",
    "correlation_id",
    "duplicate_of",
    "received_at",
    "status",
    "error",
    "result",
    "attempts",
)


def inbound_message_finish(
    message: InboundMessage,
    *,
    status: str,
    result: dict[str, Any] | None = None,
    errors: list[dict[str, str]] | None = None,
    now: datetime | None = None,
) -> None:
    message.status = status
    message.result = result or {}
    message.error = errors or []
    message.processed_at = now or timezone.now()
    InboundMessage.objects.filter(pk=message.pk).update(
        status=message.status,
        result=message.result,
        error=message.error,
        processed_at=message.processed_at,
    )


def inbound_message_reject(
    message: InboundMessage,
    *,
    errors: Sequence[Mapping[str, str]],
    reason: str,
    result: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """A message refused as a whole: kept, with its errors, and an exception for a person (one
    open per channel delivery: a redelivery counts as another occurrence)."""
    rows = [dict(e) for e in errors]
    with transaction.atomic(savepoint=False):
        inbound_message_finish(
            message, status=InboundMessage.Status.REJECTED, result=result, errors=rows, now=now
        )
        exception_raise(
            kind="message_rejected",
            reason=reason[:2000],
            details={"errors": rows},
            object_type="inbound_message",
            object_id=message.pk,
            object_label=f"{message.channel.code} message {message.pk}",
            channel=message.channel,
            dedupe_key=f"message_rejected:{message.channel.code}:{message.message_id or message.pk}",
            correlation_id=message.correlation_id,
            now=now,
        )


def inbound_message_answered(
    message: InboundMessage, *, status_code: int, errors: Sequence[Mapping[str, str]] = ()
) -> None:
    """A channel's call outside the order pipeline (a shipment, a cancellation) was answered:
    processed, or refused with the errors it was told (and an exception for a person)."""
    if status_code < 400:
        inbound_message_finish(
            message, status=InboundMessage.Status.PROCESSED, result={"status_code": status_code}
        )
        return
    said = "; ".join(e.get("message", "") for e in errors) or f"status {status_code}"
    inbound_message_reject(
        message,
        errors=errors,
        reason=f"{message.kind} from {message.channel.code} refused: {said}",
        result={"status_code": status_code},
    )


def inbound_message_too_large(
    *,
    channel: Channel,
    kind: str,
    head: bytes,
    size: int,
    headers: Mapping[str, str],
    correlation_id: str,
) -> InboundMessage:
    """Keep a message refused for its size (413): the first bytes read, flagged as truncated in
    its result, with an exception for a person."""
    with transaction.atomic():
        message = inbound_message_store(
            channel=channel, kind=kind, body=head, headers=headers, correlation_id=correlation_id
        )
        refused = TooLarge(size=size, limit=len(head))
        inbound_message_reject(
            message,
            errors=refused.as_dicts(),
            reason=f"{kind} message refused: {refused}",
            result={"truncated": True, "received_bytes": size, "kept_bytes": len(head)},
        )
    return message


def exception_raise(
    *,
    kind: str,
    reason: str,
    details: dict[str, Any] | None = None,
    object_type: str = "",
    object_id: str | int = "",
    object_label: str = "",
    channel: Channel | None = None,
    dedupe_key: str = "",
    correlation_id: str = "",
    now: datetime | None = None,
) -> ExceptionItem:
    """Queue something a person must act on. While one with the same key is open, a repeat
    counts as another occurrence of it instead of a new row.

    One statement, so it needs no transaction of its own: `INSERT … ON CONFLICT` on the
    "one open per key" index turns a repeat, or a racing twin, into an update of the open one.
    """
    now = now or timezone.now()
    item = ExceptionItem(
        kind=kind,
        reason=reason,
        details=details or {},
        object_type=object_type,
        object_id=str(object_id),
        object_label=object_label[:200],
        channel=channel,
        dedupe_key=dedupe_key,
        correlation_id=correlation_id or ensure_correlation_id(),
        created_at=now,
        last_seen_at=now,
    )
    if not dedupe_key:
        item.save(force_insert=True)
        return item
    fields = [f for f in ExceptionItem._meta.concrete_fields if not f.primary_key]
    sql = exception_upsert_sql(
        [f.column for f in fields], f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [f.get_db_prep_save(getattr(item, f.attname), connection) for f in fields]
        )
        item.pk, item.occurrences = cursor.fetchone()
    item._state.adding = False
    item._state.db = connection.alias
    if item.occurrences > 1:
        item.refresh_from_db()  # a repeat: the open one as it stands, first seen long ago
    return item


def exception_upsert_sql(columns: Sequence[str], rows: str) -> str:
    """`INSERT` of exceptions from `rows` (a VALUES list or a SELECT giving `columns`), where a
    row whose dedupe key is already open counts as another occurrence of that one instead. Also
    for statements that raise exceptions as part of their own work (backorders)."""
    qn = connection.ops.quote_name
    table = qn(ExceptionItem._meta.db_table)
    return (
        f"INSERT INTO {table} ({', '.join(qn(c) for c in columns)}) {rows} "
        # The predicate of the partial unique index exception_one_open_per_key, as Django
        # writes it: the conflict target must name that index.
        """ON CONFLICT ("dedupe_key") WHERE ("status" = 'open' AND NOT ("dedupe_key" = '')) """
        f"DO UPDATE SET occurrences = {table}.occurrences + excluded.occurrences, "
        "last_seen_at = excluded.last_seen_at, reason = excluded.reason, "
        "details = excluded.details, correlation_id = excluded.correlation_id "
        "RETURNING id, occurrences"
    )


def exception_close(
    *,
    item: ExceptionItem,
    user: Any,
    status: str,
    resolution: str = "",
    now: datetime | None = None,
) -> ExceptionItem:
    """Resolve or ignore an open exception, saying who and how: the note is required, since
    the next person to read the queue (or an auditor) must learn why it was closed."""
    if status not in (ExceptionItem.Status.RESOLVED, ExceptionItem.Status.IGNORED):
        raise BusinessRuleViolation("must be resolved or ignored", field="status")
    resolution = resolution.strip()
    if not resolution:
        raise BusinessRuleViolation(
            f"say how the exception was {status} (a resolution note is required)",
            field="resolution",
        )
    with transaction.atomic():
        locked = ExceptionItem.objects.select_for_update().get(pk=item.pk)
        if locked.status != ExceptionItem.Status.OPEN:
            raise Conflict(f"exception {item.pk} is {locked.status} already")
        locked.status = status
        locked.resolution = resolution
        locked.resolved_by = user
        locked.resolved_at = now or timezone.now()
        locked.save(update_fields=["status", "resolution", "resolved_by", "resolved_at"])
    return locked


def exception_resolve_open(*, dedupe_key: str, resolution: str, now: datetime) -> int:
    """Resolve the open exception of this key, if any, because its cause went away by itself
    (no person did it); returns how many were resolved (0 or 1). One statement."""
    return ExceptionItem.objects.filter(
        status=ExceptionItem.Status.OPEN, dedupe_key=dedupe_key
    ).update(status=ExceptionItem.Status.RESOLVED, resolved_at=now, resolution=resolution)
