"""What matching leaves for a person, in the one exception queue, written in bulk.

Each is keyed so that a re-run finds the open one again instead of adding another, and one
that a re-run no longer finds is resolved by itself: keys of a batch's own findings start
`settlement:<batch>:`; a chargeback's is the order's, since its reversal may come in another
batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Q

from retailsync.core.correlation import ensure_correlation_id
from retailsync.core.models import Channel, ExceptionItem
from retailsync.core.services import exception_upsert_sql

REASONS = {
    "no_order": "no order found for it",
    "amount_mismatch": "the amount differs from what was expected",
    "fee_variance": "the fee differs from the fee schedule",
    "currency_mismatch": "settled in another currency than the order's",
    "duplicate": "settled already in an earlier batch",
    "split_incomplete": "part of a split payment has not arrived",
    "chargeback": "a chargeback: answer the dispute",
    "payout_variance": "the payout differs from the sum of its lines",
    "deposit_missing": "the payout has not reached the bank",
    "settlement_overdue": "the money has not arrived within the provider's payout lag",
}
_CHUNK = 2_000  # rows per statement: 17 parameters each, well under 65,535


@dataclass(frozen=True, slots=True)
class Finding:
    key: str
    reason: str  # a REASONS key: the exception's kind
    text: str
    object_type: str
    object_id: str
    object_label: str
    details: dict[str, Any]


def findings_raise(
    findings: Sequence[Finding],
    *,
    channel: Channel | None,
    now: datetime,
    stale_prefixes: Sequence[str] = (),
) -> int:
    """Queue the findings; resolve what is open under `stale_prefixes` and was not found again."""
    correlation_id = ensure_correlation_id()
    findings = list({f.key: f for f in reversed(findings)}.values())[::-1]  # one per key
    keys = {f.key for f in findings}
    stale = Q()
    for prefix in stale_prefixes:
        stale |= Q(dedupe_key__startswith=prefix)
    if stale_prefixes:
        open_keys = ExceptionItem.objects.filter(stale, status=ExceptionItem.Status.OPEN)
        gone = [pk for pk, key in open_keys.values_list("pk", "dedupe_key") if key not in keys]
        for start in range(0, len(gone), _CHUNK):
            ExceptionItem.objects.filter(pk__in=gone[start : start + _CHUNK]).update(
                status=ExceptionItem.Status.RESOLVED,
                resolved_at=now,
                resolution="No longer found when the batch was matched again.",
            )
    fields = [f for f in ExceptionItem._meta.concrete_fields if not f.primary_key]
    for start in range(0, len(findings), _CHUNK):
        items = [
            ExceptionItem(
                kind=f.reason,
                reason=f.text,
                details=f.details,
                object_type=f.object_type,
                object_id=f.object_id,
                object_label=f.object_label[:200],
                channel=channel,
                dedupe_key=f.key[:200],
                correlation_id=correlation_id,
                created_at=now,
                last_seen_at=now,
            )
            for f in findings[start : start + _CHUNK]
        ]
        row = f"({', '.join(['%s'] * len(fields))})"
        values = [
            f.get_db_prep_save(getattr(i, f.attname), connection) for i in items for f in fields
        ]
        sql = exception_upsert_sql(
            [f.column for f in fields], "VALUES " + ", ".join([row] * len(items))
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
    return len(findings)
