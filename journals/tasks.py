from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from retailsync.core.publish import task_publish

from .posting.when import period_of
from .services.delivery import deliveries_stalled, journal_entry_deliver
from .services.run import journals_run

# A delivery that has said nothing for this long is taken to have died with its worker.
STALLED = timedelta(hours=1)


@shared_task(acks_late=True)
def journal_entry_deliver_task(*, entry_id: int, attempt: int = 1) -> str:
    """One attempt to deliver an entry; a retryable failure asks for the next, later."""
    result = journal_entry_deliver(entry_id=entry_id, attempt=attempt, now=timezone.now())
    if result.outcome == "retry":
        journal_entry_deliver_task.apply_async(
            kwargs={"entry_id": entry_id, "attempt": attempt + 1}, countdown=result.delay
        )
    return result.outcome


@shared_task
def journals_run_task(*, period: str = "") -> int:
    """The scheduled run: everything up to the end of this month not journaled yet, and
    deliveries whose worker died, again."""
    now = timezone.now()
    for entry_id in deliveries_stalled(older_than=now - STALLED):
        task_publish(journal_entry_deliver_task, entry_id=entry_id, attempt=1)
    return journals_run(period=period or period_of(timezone.localdate(now)), now=now)
