from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from .coalesce import task_drain
from .events import events_relay_request
from .relay import RELAY_PACE, events_dispatch, events_dispatch_waiting


@shared_task(acks_late=True)
def events_relay() -> int:
    """Dispatch the waiting events; asked for (coalesced) by commits that record some. A run
    that finds a full chunk asks for one more, so idle workers join in on a backlog; one that
    finds a short chunk waits a moment for more (relay.RELAY_PACE)."""
    if events_relay.request.is_eager:  # in-process (the demo): no one to ask, no one to wait for
        return task_drain(events_relay, events_dispatch_waiting)
    return task_drain(
        events_relay,
        lambda: events_dispatch_waiting(ask_for_help=events_relay_request, pace=RELAY_PACE),
    )


@shared_task(acks_late=True, name="retailsync.core.tasks.events_dispatch")
def events_dispatch_task(*, event_ids: list[int]) -> int:
    """Dispatch these events now (replay, or by hand); the relay does the ordinary work."""
    return events_dispatch(event_ids=event_ids)


@shared_task
def events_dispatch_pending(*, older_than_seconds: int = 30) -> int:
    """The outbox sweep: events whose relay request was lost, or whose subscriber failed."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return events_dispatch_waiting(created_before=cutoff)
