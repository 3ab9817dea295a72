from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from retailsync.core.publish import task_publish

from .loading import upload_process, uploads_stale
from .matching.deposits import settlements_age


@shared_task(acks_late=True)
def upload_process_task(*, upload_id: int) -> str:
    """Read, keep and match an uploaded file (loading.py). Safe to run again."""
    return upload_process(upload_id).status


@shared_task
def uploads_resume_task() -> int:
    """Uploads whose worker died mid-file, or whose publish was lost: run them again."""
    stale = list(uploads_stale(now=timezone.now()))
    for upload_id in stale:
        task_publish(upload_process_task, upload_id=upload_id)
    return len(stale)


@shared_task
def settlements_age_task() -> dict[str, int]:
    """Payouts past their deposit date: missing; expectations past their lag: overdue."""
    return settlements_age(now=timezone.now())
