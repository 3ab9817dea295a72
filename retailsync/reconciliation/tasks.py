from __future__ import annotations

from celery import shared_task

from .rollup import rollup_refresh


@shared_task
def rollup_refresh_task() -> int:
    """Take the days written since into the dashboard's rollup, so a page seldom waits for it."""
    return rollup_refresh()
