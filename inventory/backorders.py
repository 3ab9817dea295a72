"""Backorders fill themselves when stock arrives.

A backorder is the open `backorder` exception that `inventory.reservations` raised for an order
line it could not reserve in full (details: order, line, SKU, units short). When units become
available (a receipt, a transfer in, a return to stock, a count up, a release, a new allocation),
`backorders_wake` asks for one coalesced `backorders_fill` run after the commit, and only when
somebody waits for one of those SKUs: a stock batch nobody waits for costs one indexed look.

The run reserves, oldest order first, only what is available at the locations the order may
reserve at (its own fulfilment location, else its channel's allocation, by priority): a
backorder of a channel that does not allocate from where the units arrived stays open. A filled
backorder's exception is resolved by the system with a note; a partly filled one stays open for
the rest; one whose line was cancelled or shipped meanwhile is closed, saying so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, QuerySet, Sum
from django.utils import timezone

from orders.models import Order, OrderLine
from retailsync.core.coalesce import task_request
from retailsync.core.correlation import ensure_correlation_id
from retailsync.core.db import insert_returning, values_of
from retailsync.core.models import ExceptionItem
from retailsync.core.services import exception_close, exception_raise

from .models import BundleComponent, Item, Location, Position, Reservation, StockMovement
from .planning import RESERVATION_FIELDS as _RESERVATION_FIELDS
from .planning import Need, Plan, Take
from .planning import allocate as _allocate
from .planning import plan_of as _plan
from .planning import reservation_new as _reservation
from .rules import Quantities
from .services import Ledger, positions_locked

KIND = "backorder"
# Past this many SKUs waiting, any arrival asks for a run rather than reading them all.
MANY = 1000
# Backorders looked at per transaction: the positions they need stay locked until it commits.
CHUNK = 200


def _open() -> QuerySet[ExceptionItem]:
    return ExceptionItem.objects.filter(kind=KIND, status=ExceptionItem.Status.OPEN)


# --- asking for a run -----------------------------------------------------------------------


def arrived(movements: Iterable[StockMovement]) -> set[int]:
    """Items of which units became available at some location (net, over these movements)."""
    net: dict[tuple[int, int], int] = defaultdict(int)
    for m in movements:
        net[(m.item_id, m.location_id)] += m.on_hand - m.reserved - m.damaged - m.quality_hold
    return {item_id for (item_id, _), n in net.items() if n > 0}


def backorders_wake(*, skus: Collection[str] | None = None) -> None:
    """Ask for a fill run after the commit if an open backorder waits for one of these SKUs
    (None: for any SKU, after an allocation changed).

    The SKUs that backorders wait for are read whole (up to MANY of them) and compared here:
    a stock batch names hundreds of SKUs, and matching them in the query cost ten times more.
    """
    if skus is not None and not skus:
        return
    waiting = set(_open().values_list("details__sku", flat=True).distinct()[: MANY + 1])
    if waiting and (skus is None or len(waiting) > MANY or not waiting.isdisjoint(skus)):
        transaction.on_commit(backorders_fill_request)


def backorders_wake_after(ledger: Ledger, items: Mapping[str, Item]) -> None:
    """After stock events: wake the backorders of the items that arrived."""
    rising = arrived(ledger.movements)
    if rising:
        backorders_wake(skus={sku for sku, item in items.items() if item.pk in rising})


def backorders_fill_request() -> None:
    from .tasks import backorders_fill_task

    task_request(backorders_fill_task)  # a dead broker fails nothing: the beat's sweep fills


# --- the run --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Backorder:
    exception: ExceptionItem
    order_id: int
    line_id: int
    item_id: int
    sku: str
    short: int
    requested: int

    @classmethod
    def of(cls, e: ExceptionItem) -> Backorder | None:
        """As `inventory.reservations` raises them; None for one it did not word."""
        d = e.details
        try:
            return cls(
                e,
                int(d["order_id"]),
                int(d["line_id"]),
                int(e.dedupe_key.rsplit(":", 1)[1]),
                str(d["sku"]),
                int(d["short"]),
                int(d["requested"]),
            )
        except (KeyError, TypeError, ValueError, IndexError):
            return None


def _backorders(exceptions: Iterable[ExceptionItem]) -> list[Backorder]:
    return [b for b in map(Backorder.of, exceptions) if b is not None]


def backorders_fill(*, now: datetime | None = None) -> int:
    """Reserve available units for open backorders, oldest order first; returns units reserved.

    Only backorders whose item has units available somewhere are looked at, a chunk per
    transaction, in order of the orders' placing.
    """
    now = now or timezone.now()
    waiting = _backorders(_open().order_by("pk"))
    stocked = set(
        Position.objects.filter(item_id__in={b.item_id for b in waiting})
        .filter(on_hand__gt=F("reserved") + F("damaged") + F("quality_hold"))
        .values_list("item_id", "location_id")
    )
    items_in_stock = {item_id for item_id, _ in stocked}
    waiting = [b for b in waiting if b.item_id in items_in_stock]
    placed = dict(
        Order.objects.filter(pk__in={b.order_id for b in waiting}).values_list("pk", "placed_at")
    )
    waiting = [b for b in waiting if b.order_id in placed]
    waiting.sort(key=lambda b: (placed[b.order_id], b.order_id, b.line_id, b.item_id))
    reserved = 0
    for start in range(0, len(waiting), CHUNK):
        reserved += _fill([b.exception.pk for b in waiting[start : start + CHUNK]], stocked, now)
    return reserved


def backorders_recheck(*, order_id: int, now: datetime | None = None) -> None:
    """After an order was cancelled or shipped: close its backorders that nothing is left to
    reserve for (a line shipped from stock its reservation did not hold)."""
    ids = list(
        _open().filter(object_type="order", object_id=str(order_id)).values_list("pk", flat=True)
    )
    if ids:
        _fill(ids, set(), now or timezone.now())


def _plans(orders: Mapping[int, Order], backorders: list[Backorder]) -> dict[int, Plan]:
    """Where each order may reserve, as its acceptance planned it: one plan per channel and
    fulfilment location."""
    groups: dict[tuple[str, str], set[int]] = defaultdict(set)
    skus: dict[tuple[str, str], set[str]] = defaultdict(set)
    for b in backorders:
        order = orders[b.order_id]
        key = (order.channel.code, order.fulfilment_location)
        groups[key].add(order.pk)
        skus[key].add(b.sku)
    plans: dict[int, Plan] = {}
    for (channel, fulfilment), order_ids in groups.items():
        lines = [
            {"line_id": 0, "sku": sku, "quantity": 1} for sku in sorted(skus[channel, fulfilment])
        ]
        plan = _plan({"lines": lines, "channel": channel, "fulfilment_location": fulfilment})
        plans.update(dict.fromkeys(order_ids, plan))
    return plans


def _fill(ids: list[int], stocked: set[tuple[int, int]], now: datetime) -> int:
    correlation_id = ensure_correlation_id()
    with transaction.atomic():
        backorders = _backorders(_open().filter(pk__in=ids).order_by("pk"))
        orders = Order.objects.select_related("channel").in_bulk({b.order_id for b in backorders})
        backorders = [b for b in backorders if b.order_id in orders]
        plans = _plans(orders, backorders)
        # Locks in the order every writer of stock takes them: positions, then what they guard.
        positions = positions_locked(
            {
                (b.item_id, loc)
                for b in backorders
                for loc in plans[b.order_id].location_ids
                if (b.item_id, loc) in stocked
            },
            now=now,
        )
        locked = set(
            _open()
            .filter(pk__in=ids)
            .select_for_update()
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        orders = (
            Order.objects.select_for_update(no_key=True, of=("self",))
            .select_related("channel")
            .order_by("pk")
            .in_bulk({b.order_id for b in backorders})
        )
        rank = {pk: i for i, pk in enumerate(ids)}  # oldest order first
        backorders = sorted(
            (b for b in backorders if b.exception.pk in locked), key=lambda b: rank[b.exception.pk]
        )
        codes = dict(
            Location.objects.filter(pk__in={loc for _, loc in positions}).values_list("pk", "code")
        )
        still = _still_needed(backorders, orders)
        available = {key: p.available for key, p in positions.items()}
        ledger = Ledger(correlation_id, now)
        made: list[Reservation] = []
        for b in backorders:
            order, plan = orders[b.order_id], plans[b.order_id]
            missing = min(b.short, still[b.exception.pk])
            if missing <= 0:
                _close(b, _nothing_left(order, b.exception.object_label), now)
                continue
            takes, _ = _allocate(
                [Need(b.line_id, b.sku, b.item_id, missing)],
                _locations(b, plan),
                plan.allow_split,
                available,
            )
            if not takes:
                continue
            expires_at = (
                now + timedelta(minutes=plan.ttl_minutes)
                if plan.ttl_minutes and order.payment_state == Order.PaymentState.UNPAID
                else None
            )
            for take in takes:
                ledger.apply(
                    positions[(b.item_id, take.location_id)],
                    Quantities(reserved=take.quantity),
                    reason="reservation",
                    occurred_at=now,
                    reference=("order", str(b.order_id)),
                )
                whole = Take(
                    Need(b.line_id, b.sku, b.item_id, b.requested), take.location_id, take.quantity
                )
                made.append(_reservation(b.order_id, whole, expires_at, correlation_id, now))
            _settle(b, missing, takes, codes, now)
        ledger.save()
        insert_returning(
            Reservation, _RESERVATION_FIELDS, (values_of(r, _RESERVATION_FIELDS) for r in made)
        )
    return sum(r.quantity for r in made)


def _still_needed(backorders: list[Backorder], orders: Mapping[int, Order]) -> dict[int, int]:
    """Units each backordered line still needs of its item: what is open on the line (in the
    item's units: a bundle line needs its components) less what is held for it already."""
    lines = OrderLine.objects.in_bulk({b.line_id for b in backorders})
    per = {
        (bundle, component): n
        for bundle, component, n in BundleComponent.objects.filter(
            bundle__sku__in={line.sku for line in lines.values()},
            component_id__in={b.item_id for b in backorders},
        ).values_list("bundle__sku", "component_id", "quantity")
    }
    held = {
        (line_id, item_id): n
        for line_id, item_id, n in Reservation.objects.filter(
            order_line_id__in=lines, status=Reservation.Status.ACTIVE
        )
        .values("order_line_id", "item_id")
        .annotate(n=Sum("quantity"))
        .values_list("order_line_id", "item_id", "n")
    }
    still = {}
    for b in backorders:
        line, order = lines.get(b.line_id), orders[b.order_id]
        if line is None or order.status == Order.Status.CANCELLED:
            still[b.exception.pk] = 0
            continue
        units = line.quantity_open * (1 if line.sku == b.sku else per.get((line.sku, b.item_id), 1))
        still[b.exception.pk] = units - held.get((b.line_id, b.item_id), 0)
    return still


def _locations(b: Backorder, plan: Plan) -> list[int]:
    """The plan's locations; a line that may not split stays where part of it is held."""
    if plan.allow_split:
        return plan.location_ids
    held = set(
        Reservation.objects.filter(
            order_line_id=b.line_id, item_id=b.item_id, status=Reservation.Status.ACTIVE
        ).values_list("location_id", flat=True)
    )
    return [loc for loc in plan.location_ids if loc in held] if held else plan.location_ids


def _nothing_left(order: Order, name: str) -> str:
    if order.status == Order.Status.CANCELLED:
        return f"Closed by the system: {name} was cancelled; nothing is left to reserve."
    return (
        f"Closed by the system: the line of {name} was shipped or cancelled, or is "
        "held in full; nothing is left to reserve."
    )


def _close(b: Backorder, note: str, now: datetime) -> None:
    exception_close(
        item=b.exception, user=None, status=ExceptionItem.Status.RESOLVED, resolution=note, now=now
    )


def _settle(
    b: Backorder, missing: int, takes: list[Take], codes: Mapping[int, str], now: datetime
) -> None:
    """Resolve a filled backorder with a note; a partly filled one stays open with what it
    still lacks (the queue sees it again, as another occurrence)."""
    taken = sum(t.quantity for t in takes)
    where = ", ".join(f"{t.quantity} at {codes[t.location_id]}" for t in takes)
    if taken >= missing:
        _close(
            b,
            f"Reserved by the system once stock was available: {taken} × {b.sku} ({where}) for "
            f"{b.exception.object_label}; the line is held in full.",
            now,
        )
        return
    left = missing - taken
    e = b.exception
    exception_raise(
        kind=KIND,
        reason=f"{left} of {b.requested} × {b.sku} could not be reserved for {e.object_label} "
        f"({taken} more reserved since: {where})",
        details={**e.details, "short": left},
        object_type=e.object_type,
        object_id=e.object_id,
        object_label=e.object_label,
        dedupe_key=e.dedupe_key,
        correlation_id=e.correlation_id,
        now=now,
    )
