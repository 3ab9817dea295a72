from __future__ import annotations

from collections.abc import Iterator

import pytest

from inventory.tasks import availability_refresh_task
from retailsync.celery import app as celery_app
from retailsync.coalesce import task_taken
from retailsync.tasks import events_relay


@pytest.fixture
def broker() -> Iterator[None]:
    """The real Redis broker and no worker: what is enqueued stays in the queue, purge counts
    it, and no "waiting" flag is left over from another test."""
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    for task in (availability_refresh_task, events_relay):
        task_taken(task)
    yield
    celery_app.control.purge()
    for task in (availability_refresh_task, events_relay):
        task_taken(task)
