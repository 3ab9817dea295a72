from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from .events import event_dispatch
from .models import DomainEvent


@shared_task(acks_late=True)
def events_dispatch(*, event_ids: list[int]) -> int:
    return sum(event_dispatch(event_id=event_id) for event_id in event_ids)


@shared_task
def events_dispatch_pending(*, older_than_seconds: int = 30) -> int:
    """The outbox sweep: events whose dispatch was never enqueued or never finished."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        DomainEvent.objects.filter(dispatched_at__isnull=True, created_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    return sum(event_dispatch(event_id=event_id) for event_id in ids)
