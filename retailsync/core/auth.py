"""API credentials: channel tokens and Shopify HMAC on channel paths, staff tokens and sessions
with roles everywhere else. Tokens are stored as SHA-256 digests and compared by lookup."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import exceptions, permissions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from .models import ApiToken, Channel
from .roles import ROLES, user_roles
from .throttle import token_failure_record, token_failures_check


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_issue(
    *, channel: Channel | None = None, user: Any = None, now: datetime | None = None
) -> str:
    """A new token for a channel or a user; the clear text is returned once and not kept."""
    token = secrets.token_urlsafe(32)
    ApiToken.objects.create(
        digest=token_digest(token),
        prefix=token[:8],
        channel=channel,
        user=user,
        created_at=now or timezone.now(),
    )
    return token


def _bearer(request: HttpRequest | Request) -> str | None:
    parts = get_authorization_header(request).split()  # type: ignore[arg-type]
    if not parts or parts[0].lower() not in (b"token", b"bearer"):
        return None
    if len(parts) != 2:
        raise exceptions.AuthenticationFailed("Authorization header must be 'Token <token>'.")
    try:
        return parts[1].decode()
    except UnicodeDecodeError:
        raise exceptions.AuthenticationFailed("Token is not valid text.") from None


# Channels post thousands of orders a minute with the same token: a process remembers the channel
# tokens it has verified, for as long as the credentials generation stays the same. Reading that
# one number is a single-row query, much cheaper than the token lookup with its joins; database
# triggers bump it in the transaction of any change to a channel, legal entity or token, so a
# revoked token or a disabled channel is refused by every process from its next request.
_token_cache: dict[str, tuple[int, ApiToken]] = {}
# models.CredentialsGeneration, read without the ORM: this runs on every channel request.
_GENERATION_SQL = "SELECT value FROM core_credentialsgeneration WHERE id = 1"


def credentials_generation() -> int:
    with connection.cursor() as cursor:
        cursor.execute(_GENERATION_SQL)
        row = cursor.fetchone()
    return row[0] if row else 0


def tokens_forget() -> None:
    """Drop this process's remembered lookups (every process drops them on the next change)."""
    _token_cache.clear()


def _active_token(request: HttpRequest, token: str, now: datetime) -> ApiToken:
    """The live token, or 401 (429 for a client that has guessed too often)."""
    digest = token_digest(token)
    generation = credentials_generation()  # read before the lookup it vouches for
    cached = _token_cache.get(digest)
    found = cached[1] if cached is not None and cached[0] == generation else None
    if found is None:
        found = _token_lookup(request, digest, generation)
    if found.revoked_at is not None:
        raise exceptions.AuthenticationFailed("Unknown or revoked token.")
    if found.expires_at is not None and found.expires_at <= now:
        raise exceptions.AuthenticationFailed(
            f"This token expired at {found.expires_at.isoformat()}; use the channel's new token."
        )
    return found


def _token_lookup(request: HttpRequest, digest: str, generation: int) -> ApiToken:
    token_failures_check(request)
    found = (
        ApiToken.objects.select_related("channel__legal_entity", "user")
        .filter(digest=digest)
        .first()
    )
    if found is None:  # a guess: revoked and expired tokens are real ones, and do not count
        token_failure_record(request)
        raise exceptions.AuthenticationFailed("Unknown or revoked token.")
    if found.channel_id is not None and found.revoked_at is None:
        if len(_token_cache) > 10_000:
            _token_cache.clear()
        _token_cache[digest] = (generation, found)
    return found


def shopify_signature_valid(body: bytes, secret: str, signature: str) -> bool:
    """Base64 HMAC-SHA256 of the raw body, compared in constant time (formats.md §1)."""
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.strip().encode())


def channel_authenticate(
    request: HttpRequest, code: str, *, now: datetime | None = None
) -> Channel:
    """The channel that owns the path `code`, if the request proves to be from it.

    A Shopify channel may sign its webhook instead of sending a token. A token of another channel
    is refused with 403; no or bad credentials with 401.
    """
    signature = request.headers.get("X-Shopify-Hmac-Sha256")
    token = _bearer(request)
    if token is None and signature is not None:
        # A good signature costs no throttle look-up; a bad one counts, and past the limit the
        # answer is 429 instead of 401.
        channel = Channel.objects.select_related("legal_entity").filter(code=code).first()
        if (
            channel is None
            or channel.source != Channel.Source.SHOPIFY
            or not channel.webhook_secret
            or not shopify_signature_valid(request.body, channel.webhook_secret, signature)
        ):
            token_failures_check(request)
            token_failure_record(request)
            raise exceptions.AuthenticationFailed("Webhook signature does not verify.")
        return _usable(channel)
    if token is None:
        raise exceptions.NotAuthenticated("Send 'Authorization: Token <channel token>'.")
    found = _active_token(request, token, now or timezone.now())
    if found.channel is None or found.channel.code != code:
        raise exceptions.PermissionDenied("This token is not valid for this channel.")
    return _usable(found.channel)


def _usable(channel: Channel) -> Channel:
    if not channel.is_active:
        raise exceptions.PermissionDenied("This channel is disabled.")
    return channel


class StaffTokenAuthentication(BaseAuthentication):
    """`Authorization: Token <staff token>` for the staff API."""

    accepts_channel_tokens = False

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        token = _bearer(request)
        if token is None:
            return None
        found = _active_token(request, token, timezone.now())
        if found.user is None:
            if self.accepts_channel_tokens:
                return AnonymousUser(), found
            raise exceptions.PermissionDenied("A channel token cannot call staff endpoints.")
        if not found.user.is_active:
            raise exceptions.AuthenticationFailed("This user is inactive.")
        return found.user, found

    def authenticate_header(self, request: Request) -> str:
        return "Token"


class ChannelOrStaffTokenAuthentication(StaffTokenAuthentication):
    """For endpoints a channel's own systems may call too (a WMS reporting shipments); the view
    checks that the token's channel owns the object."""

    accepts_channel_tokens = True


def request_channel(request: Request) -> Channel | None:
    auth = getattr(request, "auth", None)
    return auth.channel if isinstance(auth, ApiToken) else None


class IsStaff(permissions.BasePermission):
    """Any person with a role (finance, operations, admin)."""

    roles: frozenset[str] = frozenset(ROLES)

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated:
            return False
        return bool(self.roles & user_roles(user))


class ChannelTokenOrRole(IsStaff):
    """A channel token (object ownership checked by the view) or a person with one of `roles`."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return request_channel(request) is not None or super().has_permission(request, view)


def role_required(*roles: str) -> type[IsStaff]:
    """A permission class for these roles (admin is always allowed)."""
    return type(f"Role_{'_'.join(roles)}", (IsStaff,), {"roles": frozenset({*roles, "admin"})})


class ApiDocsAccess(IsStaff):
    """/api/schema/ and /api/docs/: anyone while API_DOCS_PUBLIC (the demo), else staff only.
    The schema maps every endpoint and field, which a deployment need not show strangers."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return settings.API_DOCS_PUBLIC or super().has_permission(request, view)
