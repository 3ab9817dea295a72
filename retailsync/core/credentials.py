"""Writes to what lets a channel or a person in: channels and their webhook secrets, API tokens.

Each service is one transaction and says, once, who did what: in the admin through the request's
own audit record (`audit.audit_note`, written by the middleware in the same transaction), from
a command in a record of its own. Secret values are never written down, only that they changed.
Any process that remembered a token drops it on its next request: the database bumps the
credentials generation with the change (see `auth.credentials_generation`).
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from .audit import audit_note
from .auth import token_issue
from .correlation import ensure_correlation_id
from .errors import BusinessRuleViolation, NotFound
from .models import ApiToken, AuditRecord, Channel

# A change to one of these says what changed in the audit record (the admin's record otherwise
# keeps what its page said). The secret's value is never shown, only that it was set or replaced.
CREDENTIAL_FIELDS = ("webhook_secret", "is_active", "code")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change: a person in the admin (`request`), or whoever runs a command."""

    name: str
    request: HttpRequest | None = None
    command: str = ""

    @classmethod
    def of_request(cls, request: HttpRequest) -> Actor:
        return cls(request.user.get_username(), request=request)

    @classmethod
    def of_command(cls, command_line: str) -> Actor:
        """The operating-system user: a command has no staff login to name."""
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (a container running as a bare uid)
            name = "cli"
        return cls(name, command=command_line)

    def record(self, *, action: str, outcome: str, changed: dict[str, Any], now: datetime) -> None:
        """Say what was done (at the caller's `now`), inside the caller's transaction."""
        if self.request is not None:
            audit_note(self.request, outcome)  # the request's record names the admin action
            return
        AuditRecord.objects.create(
            actor=None,
            actor_name=self.name[:150],
            via="cli",
            method="",
            path=self.command[:500],
            status_code=0,  # no HTTP answer: the command succeeded, or nothing is recorded
            action=action[:200],
            result=AuditRecord.Result.DONE,
            outcome=outcome,
            summary={"changed": changed},
            correlation_id=ensure_correlation_id(),
            at=now,
        )


def _shown(field: str, old: Any, new: Any) -> tuple[dict[str, Any], str]:
    """One changed field, for the summary and in words; a secret only as set, replaced or
    cleared."""
    if field == "webhook_secret":
        verb = "cleared" if not new else "replaced" if old else "set"
        return {"from": "***" if old else "", "to": "***" if new else ""}, f"webhook secret {verb}"
    return {"from": old, "to": new}, f"{field}: {new}" if old is None else f"{field}: {old} → {new}"


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
        changed, words = {}, []
        for field in Channel._meta.concrete_fields:
            old = getattr(before, field.attname) if before is not None else None
            new = getattr(channel, field.attname)
            if field.primary_key or old == new or (before is None and new in ("", None)):
                continue
            changed[field.name], said = _shown(field.name, old, new)
            words.append(said)
        if before is None or any(field in changed for field in CREDENTIAL_FIELDS):
            verb = "created" if before is None else "changed"
            actor.record(
                action=f"channel {verb} {channel.code}",
                outcome=f"channel {channel.code} {verb}: " + "; ".join(words),
                changed=changed,
                now=now,
            )
    return token


@dataclass(frozen=True, slots=True)
class Rotation:
    channel: Channel
    token: str
    old_expire_at: datetime | None
    revoked: list[str]

    def described(self) -> str:
        old = (
            f", the old one works until {self.old_expire_at.isoformat()}"
            if self.old_expire_at
            else ""
        )
        revoked = f", revoked {', '.join(self.revoked)}" if self.revoked else ""
        return f"new token {self.token[:8]}… for {self.channel.code}{old}{revoked}"


def channel_tokens_rotate(
    *, codes: Sequence[str], expire_old_in: timedelta, actor: Actor, now: datetime
) -> list[Rotation]:
    """A new token for each channel. Its newest live token keeps working until `now +
    expire_old_in` (or its own earlier expiry), so the channel can switch without a gap; any
    older live token is revoked at once: at most two live tokens, the old and the new."""
    if expire_old_in < timedelta(0):
        raise BusinessRuleViolation("must not be negative", field="expire_old_in")
    with transaction.atomic():
        # Rotations of one channel queue here, so none of them sees three live tokens.
        channels = {c.code: c for c in Channel.objects.select_for_update().filter(code__in=codes)}
        missing = [code for code in codes if code not in channels]
        if missing:
            raise NotFound(f"no channel {missing[0]!r}", field="code")
        rotations = [_rotate(channels[code], now + expire_old_in, now) for code in codes]
        actor.record(
            action=f"rotate token {', '.join(codes)}"[:200],
            outcome="; ".join(r.described() for r in rotations),
            changed={
                r.channel.code: {
                    "issued": r.token[:8],
                    "old_expires_at": r.old_expire_at,
                    "revoked": r.revoked,
                }
                for r in rotations
            },
            now=now,
        )
    return rotations


def _rotate(channel: Channel, deadline: datetime, now: datetime) -> Rotation:
    # Newest first: issuance order is the primary key's.
    live = [t for t in channel.tokens.filter(revoked_at__isnull=True).order_by("-pk")]
    live = [t for t in live if t.is_live(now)]
    kept, older = (live[0], live[1:]) if live else (None, [])
    if kept is not None and (kept.expires_at is None or kept.expires_at > deadline):
        kept.expires_at = deadline
        kept.save(update_fields=["expires_at"])
    ApiToken.objects.filter(pk__in=[t.pk for t in older]).update(revoked_at=now)
    return Rotation(
        channel=channel,
        token=token_issue(channel=channel, now=now),
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
        owners = {t.prefix: str(t.channel or t.user) for t in pending}
        if pending:
            actor.record(
                action=f"revoke {len(pending)} token(s)",
                outcome="revoked "
                + ", ".join(f"{prefix}… ({owner})" for prefix, owner in owners.items()),
                changed={"revoked": owners},
                now=now,
            )
    return len(pending)
