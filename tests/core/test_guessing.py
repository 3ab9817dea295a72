"""Guessing is slowed: passwords by django-axes on both login pages, tokens by a counter of
failed token authentications per address in the real Redis cache."""

from __future__ import annotations

import json
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client

from retailsync.core.services import user_create
from retailsync.core.throttle import TOKEN_FAILURE_LIMIT, TOKEN_FAILURE_WINDOW
from tests.orders.payloads import canonical_order

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.66"
PASSWORD = "fiona-right-pass-2026"


@pytest.fixture
def fiona(db: None) -> Any:
    user, _ = user_create(username="fiona", role="finance", password=PASSWORD)
    return user


def _log_in(client: Client, path: str, password: str, address: str = ATTACKER) -> Any:
    return client.post(path, {"username": "fiona", "password": password}, REMOTE_ADDR=address)


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_five_wrong_passwords_lock_out_that_username_from_that_address(path, fiona):
    client = Client()

    wrong = [_log_in(client, path, "guess").status_code for _ in range(5)]
    right = _log_in(client, path, PASSWORD)

    assert wrong == [200, 200, 200, 200, 429]
    assert right.status_code == 429
    assert "Too many failed logins" in right.content.decode()
    assert not _logged_in(client)
    # Someone else at another address is not locked out by the attacker.
    elsewhere = Client()
    assert _log_in(elsewhere, path, PASSWORD, address="198.51.100.2").status_code == 302
    assert _logged_in(elsewhere)


def test_an_admin_unlocks_a_locked_out_person_in_the_admin(fiona):
    locked = Client()
    for _ in range(5):
        _log_in(locked, "/login/", "guess")
    ada, _ = user_create(username="ada", role="admin")
    admin = Client()
    admin.force_login(ada)
    attempt = AccessAttempt.objects.get(username="fiona")

    listing = admin.get("/admin/axes/accessattempt/")
    unlocked = admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})

    assert listing.status_code == 200 and "fiona" in listing.content.decode()
    assert unlocked.status_code == 302
    assert _log_in(locked, "/login/", PASSWORD).status_code == 302
    assert _logged_in(locked)


def _order(client: Client, token: str, number: int, address: str) -> Any:
    return client.post(
        "/api/v1/channels/web/orders",
        json.dumps(canonical_order(external_id=f"G-{number}")),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
        REMOTE_ADDR=address,
    )


def test_guessing_tokens_is_answered_429_with_retry_after_once_the_limit_is_reached(channel):
    guesser = Client()

    answers = [_order(guesser, f"guess-{n}", n, ATTACKER) for n in range(TOKEN_FAILURE_LIMIT + 3)]

    assert [a.status_code for a in answers] == [401] * TOKEN_FAILURE_LIMIT + [429] * 3
    blocked = answers[-1]
    assert blocked.json() == {
        "errors": [
            {
                "field": "",
                "message": "Too many failed authentications from this address. "
                f"Expected available in {blocked['Retry-After']} seconds.",
            }
        ]
    }
    assert 1 <= int(blocked["Retry-After"]) <= TOKEN_FAILURE_WINDOW
    # A real token sent from the blocked address is not even looked up.
    assert _order(guesser, channel.token, 99, ATTACKER).status_code == 429


def test_a_channel_with_a_valid_token_is_never_throttled(channel):
    channel_client, guesser = Client(), Client()
    assert _order(channel_client, channel.token, 0, ATTACKER).status_code == 201  # verified

    for n in range(TOKEN_FAILURE_LIMIT + 5):
        _order(guesser, f"guess-{n}", n, ATTACKER)
    busy = [_order(channel_client, channel.token, n, ATTACKER) for n in range(1, 61)]
    first_seen_elsewhere = _order(Client(), channel.token, 61, "198.51.100.7")

    assert _order(guesser, "guess-again", 0, ATTACKER).status_code == 429
    assert [a.status_code for a in busy] == [201] * 60
    assert first_seen_elsewhere.status_code == 201


def test_guessing_staff_tokens_is_throttled_too(db):
    guesser = Client()
    answers = [
        guesser.get(
            "/api/v1/orders/", HTTP_AUTHORIZATION=f"Token guess-{n}", REMOTE_ADDR=ATTACKER
        ).status_code
        for n in range(TOKEN_FAILURE_LIMIT + 1)
    ]
    assert answers == [401] * TOKEN_FAILURE_LIMIT + [429]


def test_the_counters_live_in_the_real_redis_cache():
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert settings.CACHES["default"]["LOCATION"].startswith("redis")


def test_wrong_webhook_signatures_count_but_a_good_one_is_never_throttled(make_channel):
    from tests.core.test_access import _signed_order

    make_channel("shopify", code="shop", webhook_secret="shpss_right")
    client = Client(REMOTE_ADDR=ATTACKER)

    wrong = [
        _signed_order(client, "shop", f"wrong-{n}", n).status_code
        for n in range(TOKEN_FAILURE_LIMIT + 1)
    ]
    good = _signed_order(client, "shop", "shpss_right", 99)

    assert wrong == [401] * TOKEN_FAILURE_LIMIT + [429]
    assert good.status_code == 201


def test_a_forged_forwarded_for_does_not_escape_the_count_but_a_trusted_proxys_does(
    channel, settings
):
    guesser = Client()

    def guess(n: int, forwarded: str, via: str = ATTACKER) -> int:
        return guesser.get(
            "/api/v1/orders/",
            HTTP_AUTHORIZATION=f"Token guess-{n}",
            HTTP_X_FORWARDED_FOR=forwarded,
            REMOTE_ADDR=via,
        ).status_code

    # No proxy in front: whatever X-Forwarded-For says, the address is the connection's.
    forged = [guess(n, f"192.0.2.{n}") for n in range(TOKEN_FAILURE_LIMIT + 1)]
    # Behind one trusted proxy (10.0.0.1), the address is the one the proxy appended: one
    # client blocked there does not block another behind the same proxy.
    settings.TRUSTED_PROXY_COUNT = 1
    one = [
        guess(n, "192.0.2.9, 198.51.100.1", via="10.0.0.1") for n in range(TOKEN_FAILURE_LIMIT + 1)
    ]
    another = guess(0, "198.51.100.2", via="10.0.0.1")

    assert forged == [401] * TOKEN_FAILURE_LIMIT + [429]
    assert one == [401] * TOKEN_FAILURE_LIMIT + [429]
    assert another == 401


def test_with_the_cache_down_tokens_are_still_checked_and_nothing_answers_500(channel, settings):
    import socket

    with socket.socket() as probe:  # a port nothing listens on: Redis is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }

    wrong = _order(Client(), "guess-while-down", 0, ATTACKER)
    right = _order(Client(), channel.token, 1, ATTACKER)

    assert wrong.status_code == 401
    assert right.status_code == 201
