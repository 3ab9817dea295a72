"""Ask for a draining task once per run, not once per row that it will drain.

Some tasks work through a table of marks (items whose availability must be recomputed, events
still to dispatch). Enqueueing one per committed change costs every writer a broker round trip
and the worker a run per change. `task_request` enqueues the task only when no earlier request
is still waiting in the queue; the task calls `task_taken` before it reads its marks, so a mark
committed after that point asks again, and one committed before it is read by the run.

The "waiting" flag lives in the broker's Redis with a time to live: a message lost with its
flag set silences the task for at most that long, and the beat's sweeps cover the gap. Without
a Redis broker (eager tasks in the demo, another broker) every request enqueues.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

WAITING_SECONDS = 60

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def _client() -> redis.Redis | None:
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    client = _clients.get(url)
    if client is None:
        with _lock:
            client = _clients.setdefault(url, redis.Redis.from_url(url))
    return client


def _flag(task: Any) -> str:
    return f"retailsync:waiting:{task.app.conf.task_default_queue}:{task.name}"


def task_request(task: Any, **kwargs: Any) -> None:
    """Enqueue `task` unless a request for it is already waiting (call it after commit)."""
    client = None if task.app.conf.task_always_eager else _client()
    if client is not None:
        try:
            if not client.set(_flag(task), b"1", nx=True, ex=WAITING_SECONDS):
                return  # a waiting run will read what was just committed
        except redis.RedisError:
            logger.warning("could not check whether %s is waiting; enqueueing it", task.name)
            client = None
    try:
        task.delay(**kwargs)
    except Exception:
        if client is not None:
            client.delete(_flag(task))
        raise


def requests_forget(app: Any) -> None:
    """Clear every waiting flag of the app's queue: after its queue was purged (tests, bench)."""
    client = _client()
    if client is None:
        return
    pattern = f"retailsync:waiting:{app.conf.task_default_queue}:*"
    keys = list(client.scan_iter(match=pattern))
    if keys:
        client.delete(*keys)


def task_taken(task: Any) -> None:
    """The task has started: changes committed from now on must ask for another run."""
    client = None if task.app.conf.task_always_eager else _client()
    if client is None:
        return
    try:
        client.delete(_flag(task))
    except redis.RedisError:
        # The flag runs out on its own; until then the beat's sweep does the asking.
        logger.warning("could not clear the waiting flag of %s", task.name)
