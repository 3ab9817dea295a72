from __future__ import annotations

from collections.abc import Iterator

import pytest

from retailsync.celery import app as celery_app
from retailsync.core.coalesce import requests_forget


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Schemathesis 4.32 names each operation's item `test[GET /path]`, but pytest 9 builds node
    ids from the function's name alone: give each operation its own id in reports."""
    for item in items:
        label = getattr(item, "operation_label", None)
        if label and not item.nodeid.endswith("]"):
            item._id = item._id.with_params(label)  # type: ignore[attr-defined]
