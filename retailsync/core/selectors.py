"""Reads of the integration core: the exception queue with its aging, and the trace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .models import AuditRecord, DomainEvent, EventReceipt, ExceptionItem, InboundMessage

# (label, from age, to age): the buckets finance reads the queue by.
AGING_BUCKETS: tuple[tuple[str, timedelta, timedelta | None], ...] = (
    ("0-1 d", timedelta(0), timedelta(days=1)),
    ("1-7 d", timedelta(days=1), timedelta(days=7)),
    ("7-30 d", timedelta(days=7), timedelta(days=30)),
    ("30+ d", timedelta(days=30), None),
)


def age_bucket_filter(label: str, now: datetime) -> Q:
    for name, low, high in AGING_BUCKETS:
        if name == label:
            q = Q(created_at__lte=now - low)
            if high is not None:
                q &= Q(created_at__gt=now - high)
            return q
    raise ValueError(f"unknown age bucket {label!r}")


def exceptions_aging(
    queryset: QuerySet[ExceptionItem], now: datetime | None = None
) -> list[dict[str, Any]]:
    """Open exceptions per age bucket and kind, in one query."""
    now = now or timezone.now()
    aggregates = {
        f"b{i}": Count("pk", filter=age_bucket_filter(name, now))
        for i, (name, _, _) in enumerate(AGING_BUCKETS)
    }
    rows = queryset.values("kind").annotate(**aggregates).order_by("kind")
    return [
        {
            "kind": row["kind"],
            "buckets": [row[f"b{i}"] for i in range(len(AGING_BUCKETS))],
            "total": sum(row[f"b{i}"] for i in range(len(AGING_BUCKETS))),
        }
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class TraceEntry:
    at: datetime
    kind: str  # message, event, handled, exception, audit
    title: str
    detail: str
    ref: str
    # The record it is about, as (object type, id), for a link by its human number.
    about: tuple[str, str] = ("", "")


def trace_timeline(correlation_id: str) -> list[TraceEntry]:
    """Everything that followed from one inbound message, oldest first. It reads only the core's
    stores, which every app writes to: messages, domain events, receipts, exceptions, audit."""
    entries: list[TraceEntry] = []
    for m in InboundMessage.objects.filter(correlation_id=correlation_id).select_related("channel"):
        entries.append(
            TraceEntry(
                m.received_at,
                "message",
                f"{m.kind} received from {m.channel.code}",
                f"status {m.status}" + (f", delivery {m.message_id}" if m.message_id else ""),
                f"inbound_message:{m.pk}",
            )
        )
        if m.processed_at:
            errors = "; ".join(e.get("message", "") for e in m.error[:3]) if m.error else ""
            entries.append(
                TraceEntry(
                    m.processed_at,
                    "message",
                    f"{m.kind} {m.status}",
                    errors,
                    f"inbound_message:{m.pk}",
                )
            )
    for e in DomainEvent.objects.filter(correlation_id=correlation_id):
        entries.append(
            TraceEntry(
                e.created_at,
                "event",
                e.name,
                f"{e.aggregate_type} {e.aggregate_id}",
                f"event:{e.pk}",
                (e.aggregate_type, e.aggregate_id),
            )
        )
    for r in EventReceipt.objects.filter(event__correlation_id=correlation_id).select_related(
        "event"
    ):
        entries.append(
            TraceEntry(
                r.handled_at,
                "handled",
                f"{r.event.name} handled",
                r.subscriber,
                f"event:{r.event_id}",
            )
        )
    for x in ExceptionItem.objects.filter(correlation_id=correlation_id):
        entries.append(
            TraceEntry(
                x.created_at,
                "exception",
                f"exception {x.kind} ({x.status})",
                x.reason[:300],
                f"exception:{x.pk}",
                (x.object_type, x.object_id),
            )
        )
    for a in AuditRecord.objects.filter(correlation_id=correlation_id):
        entries.append(
            TraceEntry(
                a.at,
                "audit",
                f"{a.actor_name}: {a.action or f'{a.method} {a.path}'}",
                f"{a.result} ({a.status_code}): {a.outcome}"
                if a.outcome
                else f"status {a.status_code}",
                f"audit:{a.pk}",
            )
        )
    entries.sort(key=lambda entry: entry.at)
    return entries
