"""Publishing a Celery task from a request, after its commit.

What the task will do is already committed and remembered in a table (the outbox, the
availability marks, a queued event batch, a pending webhook delivery), and a periodic sweep
publishes whatever was missed. So a publish that fails, because the broker is down or
unreachable, is logged and the request goes on: it neither fails after its commit nor waits on
a dead broker. One attempt (`retry=False`: no publish retry policy), and one short try to
connect (CELERY_BROKER_TRANSPORT_OPTIONS in settings).

Eager tasks (the demo, quick tests) run right here instead, and their own errors propagate.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

# What publishing raises when the broker cannot take the message.
BROKER_ERRORS = (OperationalError, redis.RedisError, OSError)


def task_publish(task: Any, **kwargs: Any) -> bool:
    """Publish `task` with keyword arguments once; False (logged) if the broker did not take it."""
    if task.app.conf.task_always_eager:
        task.apply_async(kwargs=kwargs)
        return True
    try:
        task.apply_async(kwargs=kwargs, retry=False)
    except BROKER_ERRORS as exc:
        logger.warning("could not publish %s %s (%s); a sweep will", task.name, kwargs, exc)
        return False
    return True
