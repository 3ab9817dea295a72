"""Slow down whoever guesses credentials: failed token authentications counted per client.

A client (its IP address) that sends TOKEN_FAILURE_LIMIT tokens matching nothing within one
window gets 429 with Retry-After until the window ends; its tokens are not even looked up
meanwhile, so guessing goes at TOKEN_FAILURE_LIMIT a window. Only guesses count: a revoked or
expired token is a real one some channel forgot to replace, refused with its own 401. A token
this process has already verified is never throttled (see `auth._active_token`): a channel
posting thousands of orders a minute is not slowed by a neighbour behind the same address. A
wrong Shopify signature counts too, but the signature is checked first, so a good one never
pays for a look-up here.

The counters live in Django's cache: Redis in a deployment and in the test suite, so every web
process counts together; local memory in the single-process demo. When the cache cannot be
reached the counting is skipped (logged), never the request failed: a token is still checked
against the database, and an outage of Redis must not turn into 500s for every caller.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework import exceptions

logger = logging.getLogger(__name__)

TOKEN_FAILURE_LIMIT = 20
TOKEN_FAILURE_WINDOW = 60  # seconds


def client_ip(request: HttpRequest) -> str:
    """The caller's address: REMOTE_ADDR, or with TRUSTED_PROXY_COUNT proxies in front (each
    appending to X-Forwarded-For), the address the outermost of them saw. Entries further left
    are the client's own claim and not trusted. Also django-axes' client address."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops: list[str] = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return str(request.META.get("REMOTE_ADDR", ""))


def _keys(request: HttpRequest) -> tuple[str, str]:
    address = client_ip(request)
    return f"token-failures:{address}", f"token-failures-since:{address}"


def _without_cache_ok(counting: Callable[[HttpRequest], None]) -> Callable[[HttpRequest], None]:
    @wraps(counting)
    def counted(request: HttpRequest) -> None:
        try:
            counting(request)
        except exceptions.Throttled:
            raise
        except Exception:  # the cache's client raises its own errors (redis, sockets)
            logger.warning("cannot count failed authentications: the cache is unreachable")

    return counted


@_without_cache_ok
def token_failures_check(request: HttpRequest) -> None:
    """429 if this client has used up its guesses in its current window."""
    count_key, since_key = _keys(request)
    found = cache.get_many([count_key, since_key])
    if found.get(count_key, 0) < TOKEN_FAILURE_LIMIT:
        return
    now = time.time()
    retry_after = max(1, math.ceil(found.get(since_key, now) + TOKEN_FAILURE_WINDOW - now))
    # DRF adds "Expected available in N seconds." and the handler the Retry-After header.
    raise exceptions.Throttled(
        wait=retry_after, detail="Too many failed authentications from this address."
    )


@_without_cache_ok
def token_failure_record(request: HttpRequest) -> None:
    """Count a guess. A client's window opens with its first guess and lasts
    TOKEN_FAILURE_WINDOW seconds (the counter's time to live, which `incr` keeps)."""
    count_key, since_key = _keys(request)
    if cache.add(count_key, 0, timeout=TOKEN_FAILURE_WINDOW):
        cache.set(since_key, time.time(), timeout=TOKEN_FAILURE_WINDOW)
    try:
        cache.incr(count_key)
    except ValueError:  # the window closed between the two calls: this guess opens the next
        cache.add(count_key, 1, timeout=TOKEN_FAILURE_WINDOW)


class LoginLockoutBackend(AxesStandaloneBackend):  # type: ignore[misc]  # axes has no types
    """django-axes on every login made over HTTP: /login/ and /admin/login/ pass their request.
    A login without one (a shell's `authenticate()`, the test client's `login()`) has no address
    to count and goes on to the next backend, as it would without axes."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
