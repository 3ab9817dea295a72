"""The journal run: every source event up to the end of a period that is not journaled yet.

Subscribers post events as they are dispatched; the run (`POST journals/run`, `manage.py
post_journals`, the beat schedule) is what makes a period whole: events dispatched before a
mapping rule existed, or before the journals listened, are posted now. Running it again adds
nothing: each source is posted once (`PostedSource`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextvars import copy_context
from datetime import datetime, time
from functools import partial

from django.db import OperationalError, connection
from django.db.models import BigIntegerField, Exists, OuterRef, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from orders.events import OrderShipped
from retailsync.core.contracts import Typed, payload_decode
from retailsync.core.models import DomainEvent

from ..models import PostedSource
from ..posting import RULES, Rule
from .apply import postings_apply
from .periods import month_after, month_start, period_check
from .sales_bulk import shipments_post

CHUNK = 500
SHIPPED: str = OrderShipped.EVENT  # type: ignore[attr-defined]
# Shipments are posted set-based (`sales_bulk`): a chunk costs a few statements, so it is
# large; what bounds it is the temporary tables' size and the transaction's length.
SHIPMENT_CHUNK = 20_000
# Chunks in flight at once, each in its own transaction on a connection of its own. What a
# chunk does before it locks its period and drafts (a settlement's sums, a shipment chunk's
# legs and claims) is about half of it, and runs while another chunk writes under those locks:
# PostgreSQL, where the run spends its time, works on two cores (200,000 shipments and a
# 1,000,000-line settlement: 25 s one chunk after the other).
WORKERS = 2
# A chunk refused as a deadlock's victim is posted again (all of it or none was written): two
# chunks lock their periods and drafts in one order, but an exception for a person raised or
# resolved by both can take its rows in the other order.
DEADLOCK_TRIES = 3
DEADLOCK_DETECTED = "40P01"  # PostgreSQL's SQLSTATE

Chunk = Callable[[], set[int]]  # posts a chunk of events; the entries it made or added to


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
    chunks = _chunks(end, now)
    if connection.in_atomic_block or connection.vendor != "postgresql":
        # Inside a caller's transaction (which no other connection sees), or without
        # PostgreSQL's row locks: one chunk after the other, on this connection.
        return len(set().union(*(chunk() for chunk in chunks)))
    return len(_chunks_run(chunks))


def _chunks(before: datetime, now: datetime) -> Iterator[Chunk]:
    """Every rule's unposted events in chunks: shipments last, so that the other rules' few
    but large chunks (a settlement) start first and the shipments' many fill in beside them."""
    for name, rule in RULES.items():
        if name == SHIPPED:
            continue
        last = 0
        while events := list(events_unposted(name, before=before, after_id=last)[:CHUNK]):
            last = events[-1].pk
            yield partial(_events_post, rule, events, now)
    last = 0
    while True:
        unposted = events_unposted(SHIPPED, before=before, after_id=last)
        pairs: list[tuple[int, int]] = list(
            unposted.values_list("pk", "source")[:SHIPMENT_CHUNK]  # type: ignore[misc]
        )
        if not pairs:
            return
        last = pairs[-1][0]
        yield partial(_shipments_post, pairs, now)


def _events_post(rule: Rule, events: list[DomainEvent], now: datetime) -> set[int]:
    typed = [Typed(payload_decode(rule.payload, e.payload), e) for e in events]
    return postings_apply(rule.postings(typed), now=now).entries


def _shipments_post(pairs: list[tuple[int, int]], now: datetime) -> set[int]:
    return shipments_post(pairs, now=now).entries


def _chunks_run(chunks: Iterator[Chunk]) -> set[int]:
    """`WORKERS` chunks at a time, the next read when one is done."""
    touched: set[int] = set()
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="journals") as pool:
        flying: set[Future[set[int]]] = set()
        for chunk in chunks:
            if len(flying) == WORKERS:
                done, flying = wait(flying, return_when=FIRST_COMPLETED)
                touched = touched.union(*(d.result() for d in done))
            # In the caller's context: its correlation id on what the chunk logs and raises.
            flying.add(pool.submit(copy_context().run, _on_own_connection, chunk))
        for future in flying:
            touched |= future.result()
    return touched


def _on_own_connection(chunk: Chunk) -> set[int]:
    """A chunk on this thread's connection, closed after it; again if a deadlock chose it."""
    try:
        tries = 1
        while True:
            try:
                return chunk()
            except OperationalError as error:
                deadlocked = getattr(error.__cause__, "sqlstate", None) == DEADLOCK_DETECTED
                if not deadlocked or tries == DEADLOCK_TRIES:
                    raise
                tries += 1
    finally:
        connection.close()
