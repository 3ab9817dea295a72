from __future__ import annotations

from collections.abc import Iterator

import pytest

from retailsync.celery import app as celery_app
from retailsync.coalesce import requests_forget


@pytest.fixture
def broker() -> Iterator[None]:
    """The real Redis broker and no worker: what is enqueued stays in the queue, purge counts
    it, and no "waiting" flag is left over from another test."""
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    requests_forget(celery_app)
    yield
    celery_app.control.purge()
    requests_forget(celery_app)
