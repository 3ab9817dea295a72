"""The Celery app. Correlation ids ride in task headers so a worker's log lines and records carry
the id of the inbound message that caused the work."""

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retailsync.settings")

app = Celery("retailsync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(
    lambda: ["retailsync.core", "orders", "inventory", "settlements", "returns", "journals"]
)


@signals.before_task_publish.connect
def _send_correlation_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    from .core.correlation import get_correlation_id

    if headers is not None and "correlation_id" not in headers:
        headers["correlation_id"] = get_correlation_id()


@signals.task_prerun.connect
def _receive_correlation_id(task: Any = None, **_: Any) -> None:
    from .core.correlation import set_correlation_id

    # An eager task runs inside its caller and already has the caller's id.
    correlation_id = getattr(task.request, "correlation_id", None)
    if correlation_id:
        set_correlation_id(correlation_id)
