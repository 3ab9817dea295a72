from __future__ import annotations

import time
from datetime import timedelta

from celery import Task, shared_task
from django.utils import timezone

from . import events
from .coalesce import task_taken
from .events import event_dispatch, events_dispatch_waiting


@shared_task(acks_late=True, bind=True)
def events_relay(self: Task) -> int:  # type: ignore[type-arg]
    """Dispatch every waiting event; asked for (coalesced) by commits that record some.

    A commit within ASK_AGAIN_AFTER of its process's last request does not ask (events.py):
    the run reads everything once more after RELAY_LINGER, from the first waiting event, so
    what such a commit wrote is dispatched by this run."""
    task_taken(events_relay)  # events committed from now on ask for another run
    taken = time.monotonic()
    ran = 0
    while True:
        started = time.monotonic()
        ran += events_dispatch_waiting()
        if self.request.is_eager or started - taken >= events.RELAY_LINGER:
            return ran
        time.sleep(max(0.0, taken + events.RELAY_LINGER - time.monotonic()))


@shared_task(acks_late=True)
def events_dispatch(*, event_ids: list[int]) -> int:
    """Dispatch these events now (replay, or by hand); the relay does the ordinary work."""
    return sum(event_dispatch(event_id=event_id) for event_id in event_ids)


@shared_task
def events_dispatch_pending(*, older_than_seconds: int = 30) -> int:
    """The outbox sweep: events whose relay request was lost, or whose subscriber failed."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return events_dispatch_waiting(created_before=cutoff)
