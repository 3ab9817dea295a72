"""Ask for a draining task once per run, not once per row that it will drain.

Some tasks work through a table of marks (items whose availability must be recomputed, events
still to dispatch). Enqueueing one per committed change costs every writer a broker round trip
and the worker a run per change. `task_request` enqueues the task only when no earlier request
is still waiting in the queue; the task calls `task_taken` before it reads its marks, so a mark
committed after that point asks again, and one committed before it is read by the run.

The "waiting" flag lives in the broker's Redis with a time to live: a message lost with its
flag set silences the task for at most that long, and the beat's sweeps cover the gap. Without
a Redis broker (eager tasks in the demo, another broker) every request enqueues.

A process that asked for a task less than ASK_AGAIN_AFTER seconds ago does not even ask Redis:
the run answering that request (or the one already waiting) takes it after the asking, and
`task_drain` drains once more LINGER seconds after taking it, later than any commit that
skipped. At hundreds of writes a second that spares nearly every writer a Redis round trip.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings

from .publish import task_publish

logger = logging.getLogger(__name__)

WAITING_SECONDS = 60
ASK_AGAIN_AFTER = 0.05
LINGER = 2 * ASK_AGAIN_AFTER  # the margin covers clocks that run at slightly other rates
_asked_at: dict[str, float] = {}  # task name: when this process last asked (monotonic)

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
    """Enqueue `task` unless a request for it is already waiting (call it after commit). A
    broker that cannot take it does not fail the caller (`retailsync.core.publish`)."""
    eager = task.app.conf.task_always_eager
    asking = time.monotonic()
    if not eager and asking - _asked_at.get(task.name, -LINGER) < ASK_AGAIN_AFTER:
        return  # the run answering this process's last request drains it (task_drain)
    client = None if eager else _client()
    if client is not None:
        try:
            if not client.set(_flag(task), b"1", nx=True, ex=WAITING_SECONDS):
                _asked_at[task.name] = asking
                return  # a waiting run will read what was just committed
        except redis.RedisError:
            logger.warning("could not check whether %s is waiting; enqueueing it", task.name)
            client = None
    if not task_publish(task, **kwargs):
        # Logged, and left to the beat's sweep; the next commit asks again.
        if client is not None:
            with contextlib.suppress(redis.RedisError):
                client.delete(_flag(task))
        return
    _asked_at[task.name] = asking


def task_drain(task: Any, drain: Callable[[], int]) -> int:
    """The body of a coalesced task: take the request, drain, and drain once more LINGER after
    taking it (not when eager: that runs right where the commit asked). Returns the sum."""
    task_taken(task)  # marks committed from now on ask for another run
    taken = time.monotonic()
    done = 0
    while True:
        started = time.monotonic()
        done += drain()
        if task.request.is_eager or started - taken >= LINGER:
            return done
        time.sleep(max(0.0, taken + LINGER - time.monotonic()))


def requests_forget(app: Any) -> None:
    """Forget every request for the app's queue, the waiting flags and this process's memory of
    having asked: after the queue was purged (tests, bench)."""
    _asked_at.clear()
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
