"""The figures finance compares, per legal entity, channel and currency over a period: what was
ordered, shipped, cancelled and refunded, what the providers were expected to pay, what their
settlements say, what they paid out, what reached the bank, and what went to the ERP.

Each figure is one aggregate query grouped by channel (a constant number per page, whatever the
volume), each by its own date: an order by when it was placed, a shipment by when it left, a
settlement line by when the provider posted it, a payout by its deposit date, a deposit by its
booking date, a journal by its posting date. `FLOW` is the chain whose neighbours are compared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from django.db.models import DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from journals.models import JournalEntry, JournalLine
from orders.models import Order, OrderLine, ShipmentLine
from retailsync.core.models import Channel
from retailsync.core.money import quantize
from returns.models import RefundPayment
from settlements.models import ExpectedSettlement, SettlementBatch, SettlementLine
from settlements.parsers.base import LineKind

ZERO = Decimal(0)
_MONEY: DecimalField[Decimal, Decimal] = DecimalField(max_digits=19, decimal_places=4)
SALE_KINDS = [
    k.value for k in (LineKind.CHARGE, LineKind.SHIPPING, LineKind.TAX, LineKind.PROMOTION)
]
FEE_KINDS = [LineKind.FEE.value, LineKind.COMMISSION.value]

# name, words; in the order money flows. Neighbours in FLOW are compared.
FIGURES: dict[str, str] = {
    "orders": "Orders placed",
    "shipped": "Shipped",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
    "expected": "Expected from providers",
    "settled_gross": "Settled (gross)",
    "fees": "Fees",
    "settled_net": "Settled (net)",
    "payouts": "Payouts",
    "deposited": "Deposited in the bank",
    "posted": "Posted to the ERP",
}
FLOW = (
    "orders",
    "shipped",
    "expected",
    "settled_gross",
    "settled_net",
    "payouts",
    "deposited",
    "posted",
)


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date  # exclusive

    @classmethod
    def month(cls, text: str) -> Period:
        first = datetime.strptime(text, "%Y-%m").date()
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        return cls(first, following)

    def bounds(self) -> tuple[datetime, datetime]:
        tz = timezone.get_current_timezone()
        return (
            datetime.combine(self.start, time.min, tzinfo=tz),
            datetime.combine(self.end, time.min, tzinfo=tz),
        )

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days)]


@dataclass(slots=True)
class Row:
    legal_entity: str
    channel: str
    channel_id: int
    currency: str
    figures: dict[str, Decimal] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def variances(self) -> dict[str, Decimal]:
        """Each figure of the flow less the one before it."""
        return {
            f"{b}-{a}": self.figures.get(b, ZERO) - self.figures.get(a, ZERO)
            for a, b in pairwise(FLOW)
        }


@dataclass(frozen=True, slots=True)
class Scope:
    period: Period
    channel: str = ""
    legal_entity: str = ""


# Per figure: its total per channel and day.
ByDay = dict[str, dict[tuple[int, date], Decimal]]


def _range(field_name: str, scope: Scope, as_dates: bool = False) -> Q:
    start, end = (scope.period.start, scope.period.end) if as_dates else scope.period.bounds()
    return Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})


def _share(total: str, part: str, whole: str) -> ExpressionWrapper[Any]:
    return ExpressionWrapper(F(total) * F(part) / F(whole), output_field=_MONEY)


# The figures are read a table at a time: a `Pass` is one grouped query over one table's records
# (by channel and day), adding up each of its figures with its own condition. The settlement
# lines' three figures are one scan of them, and the daily trend comes from the same rows as the
# table. The passes with a `rollup` name are the large ones: on PostgreSQL they are read from
# the daily rollup (rollup.py), which runs these same queries over the days a write touched.
@dataclass(frozen=True, slots=True)
class Pass:
    base: Callable[[], QuerySet[Any]]  # the records that count, on any day
    channel: str  # the lookup from a record to its channel id
    when: str  # the lookup of the record's date or time (the period's and the trend's)
    figures: dict[str, tuple[Any, Q | None]]  # name: (amount summed, which records count)
    rollup: str = ""

    @property
    def dated(self) -> bool:
        return self.when.endswith(("_on", "_date"))

    def records(self, scope: Scope) -> QuerySet[Any]:
        return self.base().filter(_range(self.when, scope, as_dates=self.dated))


@dataclass(frozen=True, slots=True)
class Figure:
    """One figure's records (for the drill-down) and what they add up to."""

    records: Callable[[Scope], QuerySet[Any]]
    channel: str
    amount: Any


PASSES: tuple[Pass, ...] = (
    Pass(Order.objects.all, "channel_id", "placed_at", {"orders": (F("total"), None)}, "orders"),
    Pass(
        ShipmentLine.objects.all,
        "line__order__channel_id",
        "shipment__shipped_at",
        {"shipped": (_share("line__total", "quantity", "line__quantity"), None)},
        "shipped",
    ),
    Pass(
        lambda: OrderLine.objects.filter(quantity_cancelled__gt=0),
        "order__channel_id",
        "order__cancelled_at",
        {"cancelled": (_share("total", "quantity_cancelled", "quantity"), None)},
    ),
    Pass(
        lambda: RefundPayment.objects.filter(status=RefundPayment.Status.DONE),
        "ret__channel_id",
        "created_at",
        {"refunded": (F("amount"), None)},
    ),
    Pass(
        ExpectedSettlement.objects.all,
        "order__channel_id",
        "expected_on",
        {"expected": (F("gross"), None)},
        "expected",
    ),
    Pass(
        lambda: SettlementLine.objects.filter(batch__is_statement=False),
        "batch__channel_id",
        "posted_at",
        {
            "settled_gross": (F("gross"), Q(kind__in=[*SALE_KINDS, LineKind.REFUND.value])),
            # Fee lines carry their amount in `fee` (parsers/base.py), like a charge's own fee.
            "fees": (F("fee"), None),
            "settled_net": (F("net"), ~Q(kind=LineKind.PAYOUT.value)),
        },
        "lines",
    ),
    Pass(
        lambda: SettlementBatch.objects.filter(is_statement=False),
        "channel_id",
        "deposit_date",
        {"payouts": (F("payout_amount"), None)},
    ),
    Pass(
        lambda: SettlementBatch.objects.filter(deposit_line__isnull=False),
        "channel_id",
        "deposited_on",
        {"deposited": (F("deposit_line__net"), None)},
    ),
    # What went to the ERP: the debits of the channel's posted entries (each entry balances).
    Pass(
        lambda: JournalLine.objects.filter(entry__status=JournalEntry.Status.POSTED),
        "entry__channel_id",
        "entry__posting_date",
        {"posted": (F("debit"), None)},
    ),
)


def _records(source: Pass, only: Q | None) -> Callable[[Scope], QuerySet[Any]]:
    return source.records if only is None else lambda s: source.records(s).filter(only)


FIGURE_SOURCES: dict[str, Figure] = {
    name: Figure(_records(source, only), source.channel, amount)
    for source in PASSES
    for name, (amount, only) in source.figures.items()
}


def _channels(scope: Scope) -> QuerySet[Channel]:
    channels = Channel.objects.select_related("legal_entity").order_by("legal_entity__code", "code")
    if scope.channel:
        channels = channels.filter(code=scope.channel)
    if scope.legal_entity:
        channels = channels.filter(legal_entity__code=scope.legal_entity)
    return channels


def figure_records(name: str, scope: Scope) -> QuerySet[Any]:
    """The records behind one figure, in the scope's channels."""
    source = FIGURE_SOURCES[name]
    ids = list(_channels(scope).values_list("pk", flat=True))
    return source.records(scope).filter(**{f"{source.channel}__in": ids})


def figure_total(name: str, records: QuerySet[Any]) -> Decimal:
    source = FIGURE_SOURCES[name]
    total = records.aggregate(t=Sum(source.amount))["t"]
    return Decimal(str(total)) if total is not None else ZERO


def pass_by_day(
    source: Pass, runs: list[tuple[date, date]] | None, ids: list[int] | None = None
) -> ByDay:
    """A pass's figures per channel and day over the days in `runs` ([start, end) ranges;
    None: every day), in the channels `ids` (None: all)."""
    records = source.base()
    if ids is not None:
        records = records.filter(**{f"{source.channel}__in": ids})
    if runs is not None:
        window = Q(pk__in=[])
        for start, end in runs:
            window |= _range(source.when, Scope(Period(start, end)), as_dates=source.dated)
        records = records.filter(window)
    day = source.when
    if not source.dated:
        records = records.annotate(day=TruncDate(day))
        day = "day"
    sums = {name: Sum(amount, filter=only) for name, (amount, only) in source.figures.items()}
    found: ByDay = {name: {} for name in source.figures}
    for item in records.values(source.channel, day).annotate(**sums).order_by():
        when = item[day]
        if when is None:
            continue
        key = (item[source.channel], when.date() if isinstance(when, datetime) else when)
        for name in source.figures:
            if item[name] is not None:
                found[name][key] = Decimal(str(item[name]))
    return found


def figures_by_day(scope: Scope) -> ByDay:
    """Every figure per channel and day in scope: the large ones from the rollup (brought up
    to date first), the others one grouped query per table."""
    from .rollup import rollup_read, rollup_refresh, rollup_used

    ids = list(_channels(scope).values_list("pk", flat=True))
    found: ByDay = {}
    rolled = [name for s in PASSES if s.rollup for name in s.figures] if rollup_used() else []
    if rolled:
        rollup_refresh()
        found.update(rollup_read(rolled, ids, scope.period.start, scope.period.end))
    period = [(scope.period.start, scope.period.end)]
    for source in PASSES:
        if not set(source.figures) & set(rolled):
            found.update(pass_by_day(source, period, ids))
    return found


def figures_read(scope: Scope, by_day: ByDay | None = None) -> list[Row]:
    """One row per channel in scope (and its currency), every figure filled in."""
    by_day = figures_by_day(scope) if by_day is None else by_day
    channels = list(_channels(scope))
    rows = {c.pk: Row(c.legal_entity.code, c.code, c.pk, c.currency) for c in channels}
    for name, amounts in by_day.items():
        for row in rows.values():
            row.figures[name] = ZERO
        for (channel_id, _day), amount in amounts.items():
            if channel_id in rows:
                rows[channel_id].figures[name] += amount
    for row in rows.values():
        row.figures = {n: quantize(v, row.currency) for n, v in row.figures.items()}
    return list(rows.values())


def daily_series(
    scope: Scope, names: Iterable[str], by_day: ByDay | None = None
) -> dict[str, dict[date, Decimal]]:
    """Per figure, its total per day of the period (all channels in scope, in their own
    currencies added only when the scope is one currency: the caller decides)."""
    by_day = figures_by_day(scope) if by_day is None else by_day
    series: dict[str, dict[date, Decimal]] = {}
    for name in names:
        days: dict[date, Decimal] = {}
        for (_channel_id, day), amount in sorted(by_day[name].items(), key=lambda i: i[0][1]):
            days[day] = days.get(day, ZERO) + amount
        series[name] = days
    return series
