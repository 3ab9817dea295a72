"""The Celery app. Correlation ids ride in task headers so a worker's log lines and records carry
the id of the inbound message that caused the work."""

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retailsync.settings")

app = Celery("retailsync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(
    lambda: [
        "retailsync.core",
        "orders",
        "inventory",
        "settlements",
        "returns",
        "journals",
        "retailsync.reconciliation",
    ]
)


@signals.setup_logging.connect
def _keep_djangos_logging(**_: Any) -> None:
    """Django's LOGGING (applied when the worker set Django up, before this signal) is the one
    configuration: Celery adds no handlers of its own, so a worker's and beat's lines have the
    web's format and carry the correlation id (JSON under the production settings). LOG_LEVEL,
    not `--loglevel`, sets the level."""


# Not "correlation_id": Celery fills a request's `correlation_id` with the task's own id from the
# message's properties, over any header of that name.
CORRELATION_HEADER = "retailsync_correlation_id"


@signals.before_task_publish.connect
def _send_correlation_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    from .core.correlation import get_correlation_id

    if headers is not None and CORRELATION_HEADER not in headers:
        headers[CORRELATION_HEADER] = get_correlation_id()


@signals.task_prerun.connect
def _receive_correlation_id(task: Any = None, **_: Any) -> None:
    from .core.correlation import set_correlation_id

    if task.request.is_eager:
        return  # it runs inside its caller and already has the caller's id
    # Every task sets its own, "" when published outside any request (the beat's sweeps):
    # nothing carries over from the task this worker ran before.
    set_correlation_id(getattr(task.request, CORRELATION_HEADER, None) or "")


@signals.task_failure.connect
def _count_failure(sender: Any = None, **_: Any) -> None:
    """A task that ended in an exception, counted where it ran (a worker's pool process, or the
    caller when eager); `/metrics` sums the processes that share PROMETHEUS_MULTIPROC_DIR."""
    from .core.metrics import task_failed

    task_failed(task=getattr(sender, "name", None) or "unknown")
