"""The Celery beat's schedule: the sweeps that catch what a lost publish or a dead worker
left, and the periodic work (settings.CELERY_BEAT_SCHEDULE)."""

CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "dispatch-stragglers": {
        "task": "retailsync.core.tasks.events_dispatch_pending",
        "schedule": 30.0,
    },
    "expire-reservations": {"task": "inventory.tasks.reservations_expire_task", "schedule": 60.0},
    "refresh-availability": {"task": "inventory.tasks.availability_refresh_task", "schedule": 15.0},
    "sweep-inventory": {"task": "inventory.tasks.inventory_sweep_task", "schedule": 60.0},
    # Backorders are filled when stock arrives; this covers a request lost with the broker.
    "fill-backorders": {"task": "inventory.tasks.backorders_fill_task", "schedule": 60.0},
    # A settlement upload whose worker died mid-file is picked up again (settlements/loading.py).
    "resume-uploads": {"task": "settlements.tasks.uploads_resume_task", "schedule": 60.0},
    # Payouts not in the bank by their deposit date: missing; settlements past their lag: overdue.
    "age-settlements": {"task": "settlements.tasks.settlements_age_task", "schedule": 3600.0},
    # The month's journals: whatever the subscribers could not post yet (journals/services/run.py).
    "post-journals": {"task": "journals.tasks.journals_run_task", "schedule": 3600.0},
    # The dashboard's rollup takes in the days written since (reconciliation/rollup.py).
    "refresh-reconciliation": {
        "task": "retailsync.reconciliation.tasks.rollup_refresh_task",
        "schedule": 60.0,
    },
}
