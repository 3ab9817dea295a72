"""A draining task is enqueued once while a request for it waits in the real Redis broker, and
again as soon as a run has taken it."""

from __future__ import annotations

import pytest
from django.conf import settings

from inventory.tasks import availability_refresh_task
from retailsync.celery import app as celery_app
from retailsync.core import coalesce
from retailsync.core.coalesce import task_request, task_taken

pytestmark = pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis://"), reason="needs the Redis broker"
)


def test_requests_while_one_waits_enqueue_nothing_more(broker):
    for _ in range(25):
        task_request(availability_refresh_task)

    assert celery_app.control.purge() == 1


def test_a_request_after_the_run_took_the_last_one_enqueues_again(broker, monkeypatch):
    monkeypatch.setattr(coalesce, "ASK_AGAIN_AFTER", 0.0)  # every request asks Redis
    task_request(availability_refresh_task)
    task_taken(availability_refresh_task)
    task_request(availability_refresh_task)
    task_request(availability_refresh_task)

    assert celery_app.control.purge() == 2


def test_a_process_that_asked_a_moment_ago_does_not_ask_again(broker):
    """Within ASK_AGAIN_AFTER of its last request a process skips even the flag: the run that
    answers that request drains once more after LINGER (task_drain), later than this commit."""
    task_request(availability_refresh_task)
    task_taken(availability_refresh_task)
    task_request(availability_refresh_task)

    assert celery_app.control.purge() == 1
    assert coalesce.LINGER > coalesce.ASK_AGAIN_AFTER
