"""Available-to-sell per channel: computed from positions and the channel's rules, floored at
zero, and published as a change feed (pull, by cursor) and as webhooks (push).

Stock changes mark items dirty in the same transaction; one refresh at a time drains them
(serialized by a lock), so every new figure gets a version higher than any committed before it
and a channel reading `since=<cursor>` can never skip one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from retailsync.core.db import any_of, insert_returning, update_rows
from retailsync.core.models import Channel

from .marks import availability_lag_check, marks_claim
from .models import (
    AvailabilityDirty,
    BundleComponent,
    ChannelAllocation,
    ChannelAvailability,
    Item,
    Position,
)
from .webhooks import webhook_deliveries_record

logger = logging.getLogger(__name__)
CHUNK = 5000
_REFRESH_LOCK = 74_201_126  # pg_advisory_xact_lock key for the refresh


@dataclass(frozen=True, slots=True)
class Rule:
    channel_id: int
    location_ids: frozenset[int]
    location_codes: tuple[str, ...]
    safety_stock: int
    item_safety: dict[int, int]
    share_percent: Decimal | None
    cap: int | None

    def figure(self, item_id: int, pool: int) -> int:
        """The channel's figure for an item: integer arithmetic only, it runs for every item."""
        return self._shape(item_id, pool, None)

    def describe(self, item_id: int, pool: int) -> str:
        """How the figure was shaped, in words (written only for figures that changed)."""
        steps = [f"pool {pool} at {'+'.join(self.location_codes) or 'no locations'}"]
        value = self._shape(item_id, pool, steps)
        return " ".join(steps) + f" = {value}"

    def _shape(self, item_id: int, pool: int, steps: list[str] | None) -> int:
        safety = self.item_safety.get(item_id, self.safety_stock)
        value = pool - safety
        if steps is not None and safety:
            steps.append(f"− safety {safety}{' (item)' if item_id in self.item_safety else ''}")
        if self.share_percent is not None:
            # floor(value × share / 100), exactly, with the share in hundredths of a percent
            value = max(value, 0) * int(self.share_percent * 100) // 10_000
            if steps is not None:
                steps.append(f"× {self.share_percent.normalize():f}%")
        if self.cap is not None and value > self.cap:
            value = self.cap
            if steps is not None:
                steps.append(f"cap {self.cap}")
        return max(value, 0)


def rules_all() -> list[Rule]:
    rules = []
    for a in ChannelAllocation.objects.prefetch_related("locations__location", "item_rules"):
        ordered = sorted(a.locations.all(), key=lambda cl: (cl.priority, cl.pk))
        rules.append(
            Rule(
                channel_id=a.channel_id,
                location_ids=frozenset(cl.location_id for cl in ordered),
                location_codes=tuple(cl.location.code for cl in ordered),
                safety_stock=a.safety_stock,
                item_safety={r.item_id: r.safety_stock for r in a.item_rules.all()},
                share_percent=a.share_percent,
                cap=a.cap,
            )
        )
    return rules


def _pools(item_ids: Sequence[int] | None) -> dict[int, dict[int, int]]:
    """Available units per item per location (floored at zero per position)."""
    rows = Position.objects.values_list(
        "item_id", "location_id", "on_hand", "reserved", "damaged", "quality_hold"
    )
    if item_ids is not None:
        rows = rows.filter(any_of("item_id", item_ids))
    pools: dict[int, dict[int, int]] = defaultdict(dict)
    for item_id, location_id, on_hand, reserved, damaged, held in rows.iterator(chunk_size=CHUNK):
        pools[item_id][location_id] = max(on_hand - reserved - damaged - held, 0)
    return pools


def availability_refresh(
    *, item_ids: Iterable[int] | None = None, now: datetime | None = None
) -> int:
    """Recompute channel figures (of these items, or of every marked one); returns how many
    changed.

    Marks are drained a chunk at a time, each chunk its own transaction: a backlog of any size
    goes in one call, what was drained stays drained if a later chunk fails, and the lock is
    held for one chunk only. It stops at the newest mark it found on starting: a mark committed
    later may wait for the next call, which its commit asks for."""
    if item_ids is not None:
        with transaction.atomic():
            _lock()
            wanted = sorted(set(item_ids))
            return _refresh(wanted, now or timezone.now()) if wanted else 0
    backlog = availability_lag_check(now=now or timezone.now())
    upto, changed, more = backlog.last_id, 0, True
    while upto is not None and more:
        with transaction.atomic():
            _lock()
            items, more = marks_claim(upto=upto)
            if items:
                changed += _refresh(items, now or timezone.now())
    if backlog.lagging:
        availability_lag_check(now=now or timezone.now())
    return changed


def _lock() -> None:
    """One refresh at a time, until the transaction ends: versions follow commit order."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_REFRESH_LOCK])


def availability_refresh_all(*, now: datetime | None = None) -> int:
    """Every item of every channel: after rule changes, or to rebuild."""
    now = now or timezone.now()
    with transaction.atomic():
        _lock()
        AvailabilityDirty.objects.all().delete()
        return _refresh(None, now)


def _refresh(item_ids: list[int] | None, now: datetime) -> int:
    rules = rules_all()
    if not rules:
        return 0
    # A bundle sells as many as its scarcest component allows: it follows its components.
    bundles: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for bundle_id, component_id, per in BundleComponent.objects.values_list(
        "bundle_id", "component_id", "quantity"
    ):
        bundles[bundle_id].append((component_id, per))
    if item_ids is not None:
        wanted = set(item_ids)
        wanted |= {b for b, parts in bundles.items() if any(c in wanted for c, _ in parts)}
        item_ids = sorted(wanted)
        pools = _pools(sorted(wanted | {c for b in wanted for c, _ in bundles.get(b, [])}))
    else:
        pools = _pools(None)
    all_items = (
        item_ids if item_ids is not None else list(Item.objects.values_list("pk", flat=True))
    )
    current: dict[tuple[int, int], tuple[int, int, int]] = {}
    existing = ChannelAvailability.objects.values_list(
        "pk", "channel_id", "item_id", "available", "pool"
    )
    if item_ids is not None:
        existing = existing.filter(any_of("item_id", item_ids))
    for pk, channel_id, item_id, available, pool in existing.iterator(chunk_size=CHUNK):
        current[(channel_id, item_id)] = (available, pool, pk)
    version = ChannelAvailability.objects.aggregate(v=Max("version"))["v"] or 0
    changed: list[tuple[int, int, int, int, str]] = []
    # The same figure from a different pool: the row is corrected in place, and the feed, which
    # carries figures only, is not told.
    reshaped: list[ChannelAvailability] = []
    for rule in rules:
        for item_id in all_items:
            pool = _pool(item_id, rule, pools, bundles)
            value = rule.figure(item_id, pool)
            held = current.get((rule.channel_id, item_id))
            if held is None or held[0] != value:
                changed.append(
                    (rule.channel_id, item_id, value, pool, rule.describe(item_id, pool)[:300])
                )
            elif held[1] != pool:
                reshaped.append(
                    ChannelAvailability(
                        pk=held[2], pool=pool, rule=rule.describe(item_id, pool)[:300]
                    )
                )
    update_rows(ChannelAvailability, ["pool", "rule"], reshaped)
    for start in range(0, len(changed), CHUNK):
        chunk = changed[start : start + CHUNK]
        keys = {(c, i) for c, i, *_ in chunk}
        for channel_id in {c for c, _ in keys}:
            ChannelAvailability.objects.filter(
                any_of("item_id", [i for c, i in keys if c == channel_id]), channel_id=channel_id
            ).delete()
        insert_returning(
            ChannelAvailability,
            ("channel", "item", "available", "pool", "rule", "version", "updated_at"),
            (
                (c, i, value, pool, words, version + n + 1, now)
                for n, (c, i, value, pool, words) in enumerate(chunk, start=start)
            ),
        )
    webhook_deliveries_record(changed, now=now)
    return len(changed)


def _pool(
    item_id: int,
    rule: Rule,
    pools: dict[int, dict[int, int]],
    bundles: dict[int, list[tuple[int, int]]],
) -> int:
    if item_id in bundles:
        return min(_pool(c, rule, pools, bundles) // per for c, per in bundles[item_id])
    return sum(n for loc, n in pools.get(item_id, {}).items() if loc in rule.location_ids)


@dataclass(frozen=True, slots=True)
class FeedPage:
    cursor: int
    items: list[dict[str, Any]]


def availability_feed(channel: Channel, since: int, limit: int = 1000) -> FeedPage:
    """What changed for the channel after `since` (0: everything), oldest first."""
    rows = list(
        ChannelAvailability.objects.filter(channel=channel, version__gt=since)
        .select_related("item")
        .order_by("version")[:limit]
    )
    return FeedPage(
        cursor=rows[-1].version if rows else since,
        items=[
            {
                "sku": r.item.sku,
                "available": r.available,
                "updated_at": r.updated_at,
                "version": r.version,
            }
            for r in rows
        ],
    )
