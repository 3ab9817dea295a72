from __future__ import annotations

from datetime import timedelta

from celery import Task, shared_task

from retailsync.core.coalesce import task_drain

from .availability import availability_refresh
from .backorders import backorders_fill, backorders_wake
from .reservations import reservations_expire
from .webhooks import DeliveryFailed, webhook_deliver, webhook_deliveries_requeue

WEBHOOK_RETRIES = 8


@shared_task
def availability_refresh_task() -> int:
    """Recompute the figures of every marked item, a backlog of any size chunk by chunk, and
    raise or resolve the lag exception; asked for (coalesced) by stock changes, and run by the
    beat every 15 s."""
    return task_drain(availability_refresh_task, availability_refresh)


@shared_task(
    bind=True,
    autoretry_for=(DeliveryFailed,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=WEBHOOK_RETRIES,
)
def webhook_deliver_task(self: Task[..., str], *, delivery_id: int) -> str:
    return webhook_deliver(
        delivery_id=delivery_id, final_attempt=self.request.retries >= WEBHOOK_RETRIES
    )


@shared_task
def reservations_expire_task() -> int:
    released = reservations_expire()
    if released:
        backorders_wake()  # what expired may be what a backorder waits for
    return released


@shared_task
def backorders_fill_task() -> int:
    """Reserve what arrived for backorders; asked for (coalesced) by stock that arrives."""
    return task_drain(backorders_fill_task, backorders_fill)


@shared_task
def event_batch_run_task(*, batch_id: int) -> str:
    from retailsync.core.correlation import set_correlation_id

    from .models import EventBatch
    from .services import event_batch_run

    set_correlation_id(EventBatch.objects.get(pk=batch_id).correlation_id)
    return event_batch_run(batch_id=batch_id).status


@shared_task
def inventory_sweep_task(*, older_than_seconds: int = 120) -> int:
    """The beat's sweep for work a request could not publish: event batches still queued and
    webhook pushes never tried (the availability marks have their own periodic refresh)."""
    from .services import event_batches_requeue

    older_than = timedelta(seconds=older_than_seconds)
    return event_batches_requeue(older_than=older_than) + webhook_deliveries_requeue(
        older_than=older_than
    )
