"""Writes to what lets a channel or a person in: channels and their webhook secrets, API tokens.

Each service is one transaction and leaves an audit row naming who did it and what changed, with
secret values masked. Any process that remembered a token drops it on its next request: the
database bumps the credentials generation with the change (see `auth.credentials_generation`).
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from .auth import token_issue
from .correlation import ensure_correlation_id
from .errors import BusinessRuleViolation, NotFound
from .models import ApiToken, AuditRecord, Channel

MASK = "***"
# Fields whose values an audit row never shows, only that they were set or cleared.
SECRET_FIELDS = frozenset({"webhook_secret"})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: a staff user in the admin, or the person running a command."""

    user: Any
    name: str
    via: str
    method: str
    path: str

    @classmethod
    def of_request(cls, request: HttpRequest) -> Actor:
        user = request.user
        return cls(user, user.get_username(), "admin", request.method or "", request.path)

    @classmethod
    def of_command(cls, command_line: str) -> Actor:
        """The operating-system user: a command has no staff login to name."""
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (a container running as a bare uid)
            name = "cli"
        return cls(None, name, "cli", "", command_line)


def _audit(*, actor: Actor, action: str, subject: str, changed: dict[str, Any]) -> None:
    AuditRecord.objects.create(
        actor=actor.user,
        actor_name=actor.name[:150],
        via=actor.via,
        method=actor.method[:8],
        path=actor.path[:500],
        status_code=0,  # a change, not an HTTP answer: the request's own row has the status
        summary={"action": action, "object": subject, "changed": changed},
        correlation_id=ensure_correlation_id(),
    )


def _masked(field: str, value: Any) -> Any:
    return (MASK if value else "") if field in SECRET_FIELDS else value


def _changes(before: Channel | None, after: Channel) -> dict[str, Any]:
    changed = {}
    for field in Channel._meta.concrete_fields:
        if field.primary_key:
            continue
        old = getattr(before, field.attname) if before is not None else None
        new = getattr(after, field.attname)
        if old != new:
            changed[field.name] = {
                "from": _masked(field.name, old),
                "to": _masked(field.name, new),
            }
    return changed


def channel_save(
    *, channel: Channel, new_secret: str = "", actor: Actor, now: datetime
) -> str | None:
    """Save a channel edited in the admin. A new channel gets its first token, returned in clear
    once; a blank `new_secret` keeps the stored one."""
    with transaction.atomic():
        before = None
        if channel.pk is not None:
            before = Channel.objects.select_for_update().filter(pk=channel.pk).first()
        if new_secret:
            channel.webhook_secret = new_secret
        channel.save()
        token = token_issue(channel=channel, now=now) if before is None else None
        changed = _changes(before, channel)
        if changed:
            action = "channel_create" if before is None else "channel_change"
            _audit(actor=actor, action=action, subject=f"channel:{channel.code}", changed=changed)
    return token


@dataclass(frozen=True, slots=True)
class Rotation:
    channel: Channel
    token: str
    old_expire_at: datetime | None
    revoked: list[str]


def channel_token_rotate(
    *, code: str, expire_old_in: timedelta, actor: Actor, now: datetime
) -> Rotation:
    """A new token for the channel. Its newest live token keeps working until `now +
    expire_old_in` (or its own earlier expiry), so the channel can switch without a gap; any
    older live token is revoked at once: at most two live tokens, the old and the new."""
    if expire_old_in < timedelta(0):
        raise BusinessRuleViolation("must not be negative", field="expire_old_in")
    with transaction.atomic():
        # Rotations of one channel queue here, so none of them sees three live tokens.
        channel = Channel.objects.select_for_update().filter(code=code).first()
        if channel is None:
            raise NotFound(f"no channel {code!r}", field="code")
        # Newest first: issuance order is the primary key's.
        live = [t for t in channel.tokens.filter(revoked_at__isnull=True).order_by("-pk")]
        live = [t for t in live if t.is_live(now)]
        kept, older = (live[0], live[1:]) if live else (None, [])
        if kept is not None:
            deadline = now + expire_old_in
            if kept.expires_at is None or kept.expires_at > deadline:
                kept.expires_at = deadline
                kept.save(update_fields=["expires_at"])
        ApiToken.objects.filter(pk__in=[t.pk for t in older]).update(revoked_at=now)
        token = token_issue(channel=channel, now=now)
        changed: dict[str, Any] = {"issued": token[:8]}
        if kept is not None:
            changed["expiring"] = {"token": kept.prefix, "at": kept.expires_at}
        if older:
            changed["revoked"] = [t.prefix for t in older]
        _audit(actor=actor, action="token_rotate", subject=f"channel:{code}", changed=changed)
    return Rotation(
        channel=channel,
        token=token,
        old_expire_at=kept.expires_at if kept is not None else None,
        revoked=[t.prefix for t in older],
    )


def tokens_revoke(*, tokens: Iterable[ApiToken], actor: Actor, now: datetime) -> int:
    """Revoke tokens at once, in every process. Already revoked ones are left as they were."""
    with transaction.atomic():
        pending = list(
            ApiToken.objects.select_for_update(of=("self",))
            .select_related("channel", "user")
            .filter(pk__in=[t.pk for t in tokens], revoked_at__isnull=True)
            .order_by("pk")
        )
        ApiToken.objects.filter(pk__in=[t.pk for t in pending]).update(revoked_at=now)
        for token in pending:
            owner = (
                f"channel:{token.channel.code}"
                if token.channel is not None
                else f"user:{token.user.get_username() if token.user else ''}"
            )
            _audit(
                actor=actor,
                action="token_revoke",
                subject=owner,
                changed={"revoked": token.prefix},
            )
    return len(pending)
