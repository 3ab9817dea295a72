from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from .coalesce import task_drain
from .events import event_dispatch, events_dispatch_waiting


@shared_task(acks_late=True)
def events_relay() -> int:
    """Dispatch every waiting event; asked for (coalesced) by commits that record some."""
    return task_drain(events_relay, events_dispatch_waiting)


@shared_task(acks_late=True)
def events_dispatch(*, event_ids: list[int]) -> int:
    """Dispatch these events now (replay, or by hand); the relay does the ordinary work."""
    return sum(event_dispatch(event_id=event_id) for event_id in event_ids)


@shared_task
def events_dispatch_pending(*, older_than_seconds: int = 30) -> int:
    """The outbox sweep: events whose relay request was lost, or whose subscriber failed."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return events_dispatch_waiting(created_before=cutoff)
