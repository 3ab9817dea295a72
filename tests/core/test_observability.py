"""Production's logs and a worker's metrics, in processes of their own as production runs them:
every log line one JSON object carrying its correlation id, and a Celery worker's task failures
counted in PROMETHEUS_MULTIPROC_DIR, where `/metrics` sums them with the web's."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from retailsync.celery import app as celery_app
from retailsync.core.correlation import set_correlation_id
from tests.conftest import wait_for
from tests.test_serve import database_url

ROOT = Path(__file__).resolve().parent.parent.parent
QUEUE = "retailsync-observability-test"


def production_env(**more: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}},
        "DJANGO_SETTINGS_MODULE": "retailsync.settings_production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "ALLOWED_HOSTS": "testserver",
        "LOG_LEVEL": "INFO",
        **more,
    }


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line parsed; one that is not a JSON object fails the test, naming it."""
    lines = []
    for line in text.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}\n{text}") from None
        assert isinstance(parsed, dict), line
        assert {"time", "level", "logger", "correlation_id", "message"} <= parsed.keys(), line
        lines.append(parsed)
    return lines


@pytest.mark.django_db
def test_production_logs_one_json_object_a_line_with_the_requests_correlation_id():
    script = textwrap.dedent(
        """
        import logging
        import django

        django.setup()
        from django.test import Client

        logging.getLogger("retailsync.check").info("before any request")
        response = Client().get(
            "/no-such-page/", secure=True, headers={"X-Correlation-ID": "corr-web-404"}
        )
        assert response.status_code == 404, response.status_code
        try:
            {}["missing"]
        except KeyError:
            logging.getLogger("retailsync.check").exception("a failure\\nover two lines")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr

    lines = json_lines(result.stderr)
    assert [(line["logger"], line["level"], line["correlation_id"]) for line in lines] == [
        ("retailsync.check", "INFO", "-"),
        ("django.request", "WARNING", "corr-web-404"),
        ("retailsync.check", "ERROR", "corr-web-404"),
    ]
    assert lines[1]["message"] == "Not Found: /no-such-page/"
    assert lines[1]["status_code"] == 404
    assert lines[2]["message"] == "a failure\nover two lines"
    assert "KeyError: 'missing'" in lines[2]["exc_info"]
    assert lines[0]["time"].endswith("+00:00")


def _purge_queue() -> None:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        for key in client.scan_iter(match=f"{QUEUE}*"):
            client.delete(key)
    finally:
        client.close()


def _failures(directory: Path, task: str) -> float:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    value = registry.get_sample_value("retailsync_celery_task_failures_total", {"task": task})
    return value or 0.0


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_process_counts_its_task_failures_for_metrics_and_logs_them_as_json(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    _purge_queue()
    err = (tmp_path / "worker.err").open("w+")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "retailsync", "worker", "--pool=solo",
         "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT,
        env=production_env(CELERY_QUEUE=QUEUE, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)),
        stdout=subprocess.DEVNULL,  # the start-up banner, printed rather than logged
        stderr=err,
        start_new_session=True,
    )  # fmt: skip
    name = "retailsync.core.tasks.events_dispatch_pending"
    celery_app.conf.task_always_eager = False  # put back by tests/conftest.py
    try:
        set_correlation_id("corr-task-fails")  # rides in the task's headers
        celery_app.send_task(name, kwargs={"older_than_seconds": "soon"}, queue=QUEUE)
        wait_for(lambda: _failures(metrics_dir, name) >= 1, seconds=60)
        # Then one published outside any request: it must not inherit the failed task's id.
        set_correlation_id("")
        celery_app.send_task(name, kwargs={"older_than_seconds": 30}, queue=QUEUE)
        wait_for(lambda: "succeeded in" in (tmp_path / "worker.err").read_text(), seconds=60)
        assert _failures(metrics_dir, name) == 1
    finally:
        set_correlation_id("")
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        _purge_queue()
    err.seek(0)
    output = err.read()
    # Celery warns a worker started as root (CI) before Django, and with it the logging, is set
    # up: Python prints that warning itself. Everything logged is JSON.
    output = re.sub(
        r"^\S+ SecurityWarning: You're running the worker with superuser privileges.*?"
        r"^\s+_warn_or_raise_security_error\(.*?\n",
        "",
        output,
        flags=re.S | re.M,
    )

    lines = json_lines(output)
    failed, succeeded = [
        [line for line in lines if line["logger"] == "celery.app.trace" and line["level"] == level]
        for level in ("ERROR", "INFO")
    ]
    assert len(failed) == 1, output
    assert failed[0]["correlation_id"] == "corr-task-fails"
    assert name in failed[0]["message"]
    assert "TypeError" in failed[0]["exc_info"]
    assert [line["correlation_id"] for line in succeeded] == ["-"], output
    assert any(line["logger"] == "celery.worker.consumer.connection" for line in lines), output
