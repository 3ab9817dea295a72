from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from rest_framework.test import APIClient

from retailsync.celery import app as celery_app
from retailsync.core.auth import token_issue
from retailsync.core.coalesce import requests_forget
from retailsync.core.models import Channel
from retailsync.core.services import user_create
from tests.factories import ChannelFactory

# Orders with payments and uploads run as finance runs them: for settlements and above.
pytest_plugins = ["tests.settlements.flows"]
FIXTURES = Path(__file__).parent / "fixtures"


def pytest_sessionstart(session: pytest.Session) -> None:
    # `make test` promises PostgreSQL: a suite that silently ran on SQLite proves too little.
    if (
        os.environ.get("REQUIRE_POSTGRES")
        and "postgresql" not in settings.DATABASES["default"]["ENGINE"]
    ):
        pytest.exit("REQUIRE_POSTGRES is set but DATABASE_URL is not PostgreSQL", returncode=1)


def fixture_bytes(path: str) -> bytes:
    return (FIXTURES / path).read_bytes()


def fixture_json(path: str) -> Any:
    return json.loads(fixture_bytes(path))


@pytest.fixture(autouse=True)
def _eager_tasks() -> Iterator[None]:
    """Tasks run in-process unless a test starts a real worker (tests/core/test_worker.py)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture(autouse=True)
def _no_guesses_counted() -> None:
    """Failed token authentications are counted per address in the real Redis cache
    (retailsync.core.throttle), which outlives a test: every test starts with none counted."""
    cache = settings.CACHES["default"]
    if "redis" not in cache["BACKEND"].lower():
        return
    client = redis.Redis.from_url(cache["LOCATION"])
    try:
        stale = list(client.scan_iter(match=f"{cache['KEY_PREFIX']}:*:token-failures*"))
        if stale:
            client.delete(*stale)
    finally:
        client.close()


@dataclass
class ChannelClient:
    channel: Channel
    token: str
    client: APIClient

    def post(self, path: str, body: Any, **headers: str) -> Any:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.post(
            path,
            data,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {self.token}",
            **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()},
        )

    def post_order(self, body: Any, **headers: str) -> Any:
        return self.post(f"/api/v1/channels/{self.channel.code}/orders", body, **headers)

    def post_batch(self, orders: list[Any], **headers: str) -> Any:
        return self.post(
            f"/api/v1/channels/{self.channel.code}/orders/batch", {"orders": orders}, **headers
        )


@pytest.fixture
def make_channel(db: None):  # type: ignore[no-untyped-def]
    def make(source: str = "canonical", **kwargs: Any) -> ChannelClient:
        channel = ChannelFactory(source=source, **kwargs)
        return ChannelClient(channel, token_issue(channel=channel), APIClient())

    return make


@pytest.fixture
def worker() -> Iterator[None]:
    """A real Celery worker on the Redis broker (needs django_db(transaction=True))."""
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    requests_forget(celery_app)
    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10
    ):
        yield


def wait_for(condition: Callable[[], Any], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the worker")


@contextlib.contextmanager
def events_held() -> Iterator[None]:
    """Events are recorded and enqueued to the real broker, but no worker runs them (they are
    purged afterwards): the test hands their payloads to the subscriber itself."""
    celery_app.conf.task_always_eager = False
    try:
        yield
    finally:
        celery_app.control.purge()
        requests_forget(celery_app)
        celery_app.conf.task_always_eager = True


@pytest.fixture
def channel(make_channel: Any) -> ChannelClient:
    return make_channel("canonical", code="web")


@pytest.fixture
def staff(db: None):  # type: ignore[no-untyped-def]
    """An API client for a person with a role: staff("finance")."""

    def make(role: str = "operations", username: str | None = None) -> APIClient:
        user, token = user_create(username=username or f"{role}-user", role=role)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        client.user = user  # type: ignore[attr-defined]
        return client

    return make
