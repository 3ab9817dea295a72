"""/metrics for Prometheus: who may read it, the counters processes keep, and the gauges read
from the database at scrape time. Counters belong to the test process and outlive a test, so
the tests read what a scrape says before and after and compare the difference."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from retailsync.core.models import DomainEvent, ExceptionItem
from retailsync.core.tasks import events_dispatch_pending
from tests.conftest import wait_for
from tests.orders.payloads import canonical_order

TOKEN = "metrics-token-for-the-suite-0123456789"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(**headers: str) -> Samples:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def metrics_settings(settings):  # type: ignore[no-untyped-def]
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []
    return settings


@pytest.mark.django_db
def test_metrics_are_refused_without_the_token_or_an_allowed_address(metrics_settings):
    client = Client()  # from 127.0.0.1

    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 403  # no scheme
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405

    metrics_settings.METRICS_TOKEN = ""  # no token configured: an empty bearer is no key
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


@pytest.mark.django_db
def test_metrics_are_open_to_the_configured_addresses_as_the_proxies_report_them(
    metrics_settings,
):
    client = Client()
    metrics_settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "192.0.2.7"]
    assert client.get("/metrics").status_code == 403  # 127.0.0.1 is not listed

    metrics_settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    assert client.get("/metrics").status_code == 200
    # A client's own X-Forwarded-For is not believed without a proxy in front...
    metrics_settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 403
    # ...and with one, the address it saw is the one checked.
    metrics_settings.TRUSTED_PROXY_COUNT = 1
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 200
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="10.1.2.3, 203.0.113.9").status_code == 403


@pytest.mark.django_db
def test_orders_are_counted_by_channel_and_result_and_requests_by_view(metrics_settings, channel):
    before = scrape()

    assert channel.post_order(canonical_order()).status_code == 201
    assert channel.post_order(canonical_order()).status_code == 200  # the same again
    assert (
        channel.post_order(canonical_order(external_id="WEB-2", total="99.00")).status_code == 422
    )
    batch = channel.post_batch(
        [canonical_order(external_id="WEB-3"), canonical_order(external_id="WEB-4")]
    )
    assert batch.status_code == 200
    after = scrape()

    counted = "retailsync_orders_ingested_total"
    delta = {
        result: value(after, counted, channel="web", result=result)
        - value(before, counted, channel="web", result=result)
        for result in ("created", "updated", "duplicate", "rejected")
    }
    assert delta == {"created": 3, "updated": 0, "duplicate": 1, "rejected": 1}

    by_view = "django_http_requests_total_by_view_transport_method_total"
    labels = {"view": "order-ingest", "transport": "http", "method": "POST"}
    assert value(after, by_view, **labels) - value(before, by_view, **labels) == 3
    responses = "django_http_responses_total_by_status_view_method_total"
    rejected = {"status": "422", "view": "order-ingest", "method": "POST"}
    assert value(after, responses, **rejected) - value(before, responses, **rejected) == 1
    batches = {"view": "order-batch-ingest", "method": "POST"}
    latency = "django_http_requests_latency_seconds_by_view_method_count"
    assert value(after, latency, **batches) - value(before, latency, **batches) == 1


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_task_failures_in_a_worker_are_counted_by_task(metrics_settings, worker):
    """The worker runs in this process here (tests/conftest.py); a worker process of its own
    writes to PROMETHEUS_MULTIPROC_DIR (tests/core/test_worker_observability.py)."""
    name = "retailsync.core.tasks.events_dispatch_pending"
    failures = "retailsync_celery_task_failures_total"
    before = value(scrape(), failures, task=name)

    # One worker process, one task at a time, in order: a success, then a failure.
    events_dispatch_pending.delay(older_than_seconds=30)
    events_dispatch_pending.delay(older_than_seconds="soon")  # timedelta(seconds="soon")

    wait_for(lambda: value(scrape(), failures, task=name) > before)
    assert value(scrape(), failures, task=name) - before == 1


@pytest.mark.django_db
def test_the_outbox_backlog_and_open_exceptions_are_read_from_the_database(metrics_settings):
    now = timezone.now()
    for age, dispatched in ((timedelta(seconds=90), False), (timedelta(seconds=10), False),
                            (timedelta(hours=5), True)):  # fmt: skip
        DomainEvent.objects.create(
            name="order.accepted",
            aggregate_type="order",
            aggregate_id="1",
            correlation_id="c",
            created_at=now - age,
            dispatched_at=now if dispatched else None,
        )
    for kind, age, status in (
        ("order_rejected", timedelta(hours=2), "open"),
        ("order_rejected", timedelta(days=3), "open"),
        ("order_rejected", timedelta(days=3), "resolved"),
        ("unknown_sku", timedelta(days=40), "open"),
    ):
        ExceptionItem.objects.create(
            kind=kind,
            reason="r",
            correlation_id="c",
            created_at=now - age,
            status=status,
            resolved_at=None if status == "open" else now,
        )

    samples = scrape()

    assert value(samples, "retailsync_metrics_database_up") == 1
    assert value(samples, "retailsync_outbox_pending_events") == 2
    oldest = value(samples, "retailsync_outbox_oldest_pending_age_seconds")
    assert 90 <= oldest < 120
    open_by = {
        (labels["kind"], labels["age"]): count
        for (name, key), count in samples.items()
        if name == "retailsync_exceptions_open"
        for labels in [dict(key)]
    }
    assert open_by == {
        ("order_rejected", "0-1d"): 1,
        ("order_rejected", "1-7d"): 1,
        ("order_rejected", "7-30d"): 0,
        ("order_rejected", "30+d"): 0,
        ("unknown_sku", "0-1d"): 0,
        ("unknown_sku", "1-7d"): 0,
        ("unknown_sku", "7-30d"): 0,
        ("unknown_sku", "30+d"): 1,
    }


@pytest.mark.django_db
def test_an_empty_outbox_has_no_age(metrics_settings):
    DomainEvent.objects.create(
        name="order.accepted",
        aggregate_type="order",
        aggregate_id="1",
        correlation_id="c",
        dispatched_at=timezone.now(),
    )
    samples = scrape()
    assert value(samples, "retailsync_outbox_pending_events") == 0
    assert ("retailsync_outbox_oldest_pending_age_seconds", frozenset()) in samples
    assert value(samples, "retailsync_outbox_oldest_pending_age_seconds") == 0
