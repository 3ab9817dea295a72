"""The marks that ask for the availability refresh: claimed a bounded chunk at a time, and
watched, so that people hear of it when the channels' figures fall behind the stock.

A burst of orders leaves a mark per stock change (about two per order); a refresh that cannot
keep up, or fails, leaves them all waiting. No statement here names one parameter per mark or
per item: PostgreSQL refuses more than 65,535 in a statement, and a claim that named every mark
failed on every run once the backlog passed that, so the backlog only grew and the channels
were told stale figures with nothing to say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Max, Min

from retailsync.core.db import any_of
from retailsync.core.services import exception_raise, exception_resolve_open

from .models import AvailabilityDirty

# The oldest marks whose items one chunk of the refresh takes (with every other mark of those
# items): one transaction of at most this many items, about a second of work at 50k items × 3
# channels in 4.5 s, so the refresh lock is never held for long.
CLAIM_MARKS = 10_000
LAG_KIND = "availability_lag"


@dataclass(frozen=True, slots=True)
class Backlog:
    last_id: int | None  # the newest waiting mark; None: nothing waits
    lagging: bool  # the oldest waiting mark is older than the limit


def marks_claim(*, upto: int) -> tuple[list[int], bool]:
    """Take the items of the oldest committed marks (at most CLAIM_MARKS marks, none newer than
    `upto`) with every mark of those items; the positions read after this include their stock.
    A mark still in flight is not visible yet and stays for the next refresh. Returns the items
    and whether more marks may wait. Call it under the refresh lock."""
    window = list(
        AvailabilityDirty.objects.filter(pk__lte=upto)
        .order_by("pk")
        .values_list("item_id", flat=True)[:CLAIM_MARKS]
    )
    items = sorted(set(window))
    if items:
        AvailabilityDirty.objects.filter(any_of("item_id", items)).delete()
    return items, len(window) == CLAIM_MARKS


def availability_lag_check(*, now: datetime) -> Backlog:
    """Queue an exception for people while the oldest waiting mark is older than
    AVAILABILITY_LAG_ALERT_SECONDS (one open, counting repeats), and resolve it once it is not.

    The refresh checks before it drains, so a refresh that fails on every run still says so."""
    found = AvailabilityDirty.objects.aggregate(last_id=Max("pk"), oldest=Min("marked_at"))
    limit = settings.AVAILABILITY_LAG_ALERT_SECONDS
    lag = int((now - found["oldest"]).total_seconds()) if found["oldest"] else None
    if lag is None or lag <= limit:
        oldest = "no stock change waits" if lag is None else f"the oldest waiting is {lag} s old"
        exception_resolve_open(
            dedupe_key=LAG_KIND, resolution=f"Caught up: {oldest} for the refresh.", now=now
        )
        return Backlog(found["last_id"], lagging=False)
    pending = AvailabilityDirty.objects.count()
    exception_raise(
        kind=LAG_KIND,
        dedupe_key=LAG_KIND,
        reason=(
            f"The availability feed lags {_duration(lag)} behind (limit {_duration(limit)}): "
            f"{pending} stock {'change waits' if pending == 1 else 'changes wait'} for the "
            "refresh, and "
            "channels are told figures older than that."
        ),
        details={"lag_seconds": lag, "limit_seconds": limit, "pending_marks": pending},
        now=now,
    )
    return Backlog(found["last_id"], lagging=True)


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
