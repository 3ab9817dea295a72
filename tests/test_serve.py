"""`make serve` for real: deploy/serve.py starts gunicorn (gunicorn.conf.py), a Celery worker and
beat with the production settings, on the suite's PostgreSQL database and a Redis database and
queue of their own; a channel's order goes through them to a reservation, and SIGTERM stops
every process cleanly."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from retailsync.core.services import channel_create, user_create
from tests.orders.payloads import canonical_order

pytestmark = [pytest.mark.serve, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parent.parent
HTTPS = {"X-Forwarded-Proto": "https"}  # what the TLS-terminating proxy in front would send


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    """The suite's test database (pytest-django's), where this test commits its data."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


QUEUE = "retailsync-serve-test"
METRICS_TOKEN = "serve-test-metrics-token"


def broker_url() -> str:
    """The suite's Redis server, another database and queue: the suite's own worker never sees
    these. Whatever an earlier run's beat left in the queue is dropped first."""
    url = urlsplit(settings.CELERY_BROKER_URL)
    db = int(url.path.strip("/") or 0)
    ours = urlunsplit(url._replace(path=f"/{(db + 1) % 16}"))
    client = redis.Redis.from_url(ours)
    try:
        for key in client.scan_iter(match=f"{QUEUE}*"):  # the queue, and one per priority
            client.delete(key)
    finally:
        client.close()
    return ours


def descendants(pid: int) -> set[int]:
    """pid and every process below it (gunicorn's and the worker's children too)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = {child for child, ppid in parents.items() if ppid == parent}
        frontier.extend(children - found)
        found |= children
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Server:
    def __init__(self, port: int) -> None:
        self.port = port

    def request(
        self, method: str, path: str, body: Any = None, token: str = "", **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            sent = {**headers, **({"Authorization": f"Token {token}"} if token else {})}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                sent["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()


def wait_until(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, subprocess.Popen[bytes], Path]]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}},
        "DJANGO_SETTINGS_MODULE": "retailsync.settings_production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker_url(),
        "CELERY_QUEUE": QUEUE,
        "ALLOWED_HOSTS": "127.0.0.1",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        # gunicorn.conf.py's 4 workers × 2 threads, fewer workers on a shared CI machine.
        "GUNICORN_WORKERS": "2",
        "CELERY_CONCURRENCY": "1",
        "STATIC_ROOT": str(tmp_path / "static"),
        "BEAT_SCHEDULE_FILE": str(tmp_path / "celerybeat-schedule"),
        "METRICS_TOKEN": METRICS_TOKEN,
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "deploy/serve.py"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Server(port), proc, log
    finally:
        # Shown only when the test fails (pytest keeps a passing test's output to itself).
        print(log.read_text(errors="replace")[-6000:], file=sys.stderr)
        if proc.poll() is None:  # the test failed before it stopped everything itself
            for pid in descendants(proc.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            proc.wait()


def test_make_serve_takes_an_order_to_a_reservation_and_stops_on_sigterm(served):
    server, proc, log = served
    _, channel_token = channel_create(code="web", source="canonical")
    _, ops_token = user_create(username="wms", role="operations")

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"serve.py exited with {proc.returncode}:\n{log.read_text()}")
        try:
            return server.request("GET", "/api/v1/orders/", **HTTPS)[0] == 401
        except OSError:
            return False  # not listening yet

    wait_until(up, 90, "gunicorn to answer")

    # Production settings: plain http is sent to https, the schema is for staff only, and the
    # Swagger UI's files come from our own (hashed, collected) static files.
    status, headers, _ = server.request("GET", "/api/v1/orders/")
    assert (status, headers["Location"]) == (301, f"https://127.0.0.1:{server.port}/api/v1/orders/")
    assert server.request("GET", "/api/schema/", **HTTPS)[0] == 401
    status, _, page = server.request("GET", "/api/docs/", token=ops_token, **HTTPS)
    assert status == 200
    bundle = re.search(rb'src="(/static/drf_spectacular_sidecar/[^"]+\.[0-9a-f]{12}\.js)"', page)
    assert bundle is not None, page
    status, headers, _ = server.request("GET", bundle.group(1).decode(), **HTTPS)
    assert status == 200
    assert headers["Content-Type"].startswith("text/javascript")

    # A location with stock, through the staff API.
    for path, body in (
        ("/api/v1/inventory/locations", {"code": "WH1", "kind": "warehouse", "name": "Main"}),
        ("/api/v1/inventory/items", {"sku": "TEE", "description": "Tee", "unit_cost": "4.00"}),
    ):
        status, _, answer = server.request("POST", path, body, token=ops_token, **HTTPS)
        assert status == 201, answer
    receipt = {
        "event_id": "r1",
        "source": "wms",
        "type": "receipt",
        "sku": "TEE",
        "location": "WH1",
        "quantity": 5,
        "occurred_at": "2026-11-20T10:00:00Z",
    }
    status, _, answer = server.request(
        "POST", "/api/v1/inventory/events", receipt, token=ops_token, **HTTPS
    )
    assert (status, json.loads(answer)) == (200, {"applied": 1, "duplicates": 0})

    # The channel's order (2 + 1 tees at WH1) is accepted, and the worker reserves 3 of the 5.
    order = canonical_order()
    for line in order["lines"]:
        line["sku"] = "TEE"
    status, _, answer = server.request(
        "POST", "/api/v1/channels/web/orders", order, token=channel_token, **HTTPS
    )
    assert status == 201, answer

    asked = []

    def position() -> dict[str, Any] | None:
        asked.append(1)
        _, _, body = server.request(
            "GET", "/api/v1/inventory/positions?sku=TEE&location=WH1", token=ops_token, **HTTPS
        )
        rows = json.loads(body)["results"]
        return rows[0] if rows and rows[0]["reserved"] else None

    reserved = wait_until(position, 30, "the worker to reserve the order's stock")
    assert (reserved["on_hand"], reserved["reserved"], reserved["available"]) == (5, 3, 2)

    # /metrics, scraped over plain http as Prometheus would inside the network: the counts of
    # both gunicorn workers summed (PROMETHEUS_MULTIPROC_DIR, set up by serve.py).
    assert server.request("GET", "/metrics")[0] == 403
    status, _, body = server.request("GET", "/metrics", Authorization=f"Bearer {METRICS_TOKEN}")
    assert status == 200, body
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }

    def sample(name: str, **labels: str) -> float | None:
        return samples.get((name, frozenset(labels.items())))

    by_view = "django_http_requests_total_by_view_transport_method_total"
    assert sample(by_view, view="position-list", transport="https", method="GET") == len(asked)
    assert sample(by_view, view="stock-events", transport="https", method="POST") == 1
    assert sample("retailsync_orders_ingested_total", channel="web", result="created") == 1
    assert sample("retailsync_outbox_pending_events") is not None

    # SIGTERM: every process stops, each cleanly, and so does serve.py.
    tree = descendants(proc.pid)
    assert len(tree) >= 1 + 3 + 2 + 1  # serve.py; gunicorn, worker, beat; 2 web workers; pool
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, log.read_text()
    assert not [pid for pid in tree if alive(pid)]
    output = log.read_text()
    for name in ("gunicorn", "worker", "beat"):
        assert re.search(rf"serve: {name} \(pid \d+\) exited with status 0", output), output
