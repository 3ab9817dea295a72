"""The journal run: every source event up to the end of a period that is not journaled yet.

Subscribers post events as they are dispatched; the run (`POST journals/run`, `manage.py
post_journals`, the beat schedule) is what makes a period whole: events dispatched before a
mapping rule existed, or before the journals listened, are posted now. Running it again adds
nothing: each source is posted once (`PostedSource`).
"""

from __future__ import annotations

from datetime import datetime, time

from django.db.models import BigIntegerField, Exists, OuterRef, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from orders.events import OrderShipped
from retailsync.core.contracts import Typed, payload_decode
from retailsync.core.models import DomainEvent

from ..models import PostedSource
from ..posting import RULES
from .apply import postings_apply
from .periods import month_after, month_start, period_check
from .sales_bulk import shipments_post

CHUNK = 500
SHIPPED: str = OrderShipped.EVENT  # type: ignore[attr-defined]
# Shipments are posted set-based (`sales_bulk`): a chunk costs a few statements, so it is
# large; what bounds it is the temporary tables' size and the transaction's length.
SHIPMENT_CHUNK = 20_000


def events_unposted(name: str, *, before: datetime, after_id: int = 0) -> QuerySet[DomainEvent]:
    """Events of `name` created before `before` whose source is not posted yet, in id order."""
    field = RULES[name].source_field
    posted = PostedSource.objects.filter(event_name=name, source_id=OuterRef("source"))
    return (
        DomainEvent.objects.filter(name=name, created_at__lt=before, pk__gt=after_id)
        .annotate(source=Cast(KT(f"payload__{field}"), BigIntegerField()))
        .exclude(Exists(posted))
        .order_by("pk")
    )


def journals_run(*, period: str, now: datetime) -> int:
    """Post what is left up to the end of `period`; how many entries were made or added to."""
    period_check(period)
    end = timezone.make_aware(datetime.combine(month_start(month_after(period)), time.min))
    touched: set[int] = set()
    for name, rule in RULES.items():
        if name == SHIPPED:
            touched |= _shipments_run(before=end, now=now)
            continue
        last = 0
        while True:
            events = list(events_unposted(name, before=end, after_id=last)[:CHUNK])
            if not events:
                break
            last = events[-1].pk
            typed = [Typed(payload_decode(rule.payload, e.payload), e) for e in events]
            touched |= postings_apply(rule.postings(typed), now=now).entries
    return len(touched)


def _shipments_run(*, before: datetime, now: datetime) -> set[int]:
    touched: set[int] = set()
    last = 0
    while True:
        unposted = events_unposted(SHIPPED, before=before, after_id=last)
        pairs: list[tuple[int, int]] = list(
            unposted.values_list("pk", "source")[:SHIPMENT_CHUNK]  # type: ignore[misc]
        )
        if not pairs:
            return touched
        last = pairs[-1][0]
        touched |= shipments_post(pairs, now=now).entries
