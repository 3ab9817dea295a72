"""`/metrics` for Prometheus: what operations watches, in the exposition format of the official
client (prometheus-client). django-prometheus' middleware counts and times every request by view.

Two kinds of figures:

- Counters a process increments as things happen: orders ingested (the ingest rate), Celery task
  failures, requests. Each process counts its own. gunicorn runs several workers and Celery its
  own processes, so production sets PROMETHEUS_MULTIPROC_DIR (`make serve` does): every process
  writes its counts to files there and `/metrics` sums them all, whichever worker answers. Without
  it (the demo, one process) `/metrics` shows the answering process alone.
- Gauges read from the database at scrape time, whole whatever process answers: the outbox
  backlog and the age of its oldest event (the partial index on undispatched events), and open
  exceptions by kind and age (one grouped query over the open ones).

Only the addresses in METRICS_ALLOWED_IPS, or a caller with `Authorization: Bearer
$METRICS_TOKEN`, may read it; anyone else gets 403.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from .models import DomainEvent, ExceptionItem
from .selectors import AGING_BUCKETS, exceptions_aging
from .throttle import client_ip

logger = logging.getLogger(__name__)

ORDERS_INGESTED = Counter(
    "retailsync_orders_ingested",
    "Orders channels sent, by what came of each: created (accepted, new), updated, duplicate "
    "or rejected.",
    ["channel", "result"],
)
TASK_FAILURES = Counter(
    "retailsync_celery_task_failures",
    "Celery tasks that ended in an exception (after their retries), by task.",
    ["task"],
)


def orders_ingested(*, channel: str, results: Iterable[str]) -> None:
    """Count a delivery's orders once it is committed (the ingest services own their
    transaction and have returned)."""
    for result in results:
        ORDERS_INGESTED.labels(channel=channel, result=result).inc()


def task_failed(*, task: str) -> None:
    TASK_FAILURES.labels(task=task).inc()


def _age_label(bucket: str) -> str:
    return bucket.replace(" ", "")  # "0-1 d" as the exception queue shows it: age="0-1d"


class DatabaseCollector:
    """Gauges computed from the database at each scrape, with two cheap queries."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "retailsync_metrics_database_up",
            "1 when the database answered this scrape's queries; 0 and no database gauges else.",
        )
        try:
            gauges = list(self._database_gauges())
        except DatabaseError:
            logger.warning("metrics: the database did not answer", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from gauges

    def _database_gauges(self) -> Iterator[Metric]:
        now = timezone.now()
        outbox = DomainEvent.objects.filter(dispatched_at=None).aggregate(
            pending=Count("pk"), oldest=Min("created_at")
        )
        backlog = GaugeMetricFamily(
            "retailsync_outbox_pending_events",
            "Domain events recorded and not yet dispatched to their subscribers.",
        )
        backlog.add_metric([], outbox["pending"])
        age = GaugeMetricFamily(
            "retailsync_outbox_oldest_pending_age_seconds",
            "Age of the oldest domain event not yet dispatched; 0 when none waits.",
        )
        oldest = outbox["oldest"]
        age.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        exceptions = GaugeMetricFamily(
            "retailsync_exceptions_open",
            "Open exceptions by kind and age (the exception queue's buckets).",
            labels=["kind", "age"],
        )
        open_items = ExceptionItem.objects.filter(status=ExceptionItem.Status.OPEN)
        for row in exceptions_aging(open_items, now):
            for (bucket, _, _), count in zip(AGING_BUCKETS, row["buckets"], strict=True):
                exceptions.add_metric([row["kind"], _age_label(bucket)], count)
        yield from (backlog, age, exceptions)


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every process's counters, from the files they write there.
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(REGISTRY)  # this process's own
    registry.register(DatabaseCollector())
    return registry


def metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    networks = [ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_IPS]
    return any(address in network for network in networks)


@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return HttpResponse(
            "Forbidden: /metrics is for the configured addresses (METRICS_ALLOWED_IPS) or a "
            "bearer token (METRICS_TOKEN).\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
