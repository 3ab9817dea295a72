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


def _range(field_name: str, scope: Scope, as_dates: bool = False) -> Q:
    start, end = (scope.period.start, scope.period.end) if as_dates else scope.period.bounds()
    return Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})


def _share(total: str, part: str, whole: str) -> ExpressionWrapper[Any]:
    return ExpressionWrapper(F(total) * F(part) / F(whole), output_field=_MONEY)


# Each figure: the records behind it (for the drill-down) and what they add up to, grouped by
# the channel they belong to.
@dataclass(frozen=True, slots=True)
class Figure:
    records: Callable[[Scope], QuerySet[Any]]
    channel: str  # the lookup from a record to its channel id
    amount: Any  # an expression summed per channel
    when: str  # the lookup of the record's date, for the daily trend


def _orders(s: Scope) -> QuerySet[Order]:
    return Order.objects.filter(_range("placed_at", s))


def _shipped(s: Scope) -> QuerySet[ShipmentLine]:
    return ShipmentLine.objects.filter(_range("shipment__shipped_at", s))


def _cancelled(s: Scope) -> QuerySet[OrderLine]:
    return OrderLine.objects.filter(_range("order__cancelled_at", s), quantity_cancelled__gt=0)


def _refunded(s: Scope) -> QuerySet[RefundPayment]:
    return RefundPayment.objects.filter(_range("created_at", s), status=RefundPayment.Status.DONE)


def _expected(s: Scope) -> QuerySet[ExpectedSettlement]:
    return ExpectedSettlement.objects.filter(_range("expected_on", s, as_dates=True))


def _lines(s: Scope) -> QuerySet[SettlementLine]:
    return SettlementLine.objects.filter(_range("posted_at", s), batch__is_statement=False)


def _payouts(s: Scope) -> QuerySet[SettlementBatch]:
    return SettlementBatch.objects.filter(
        _range("deposit_date", s, as_dates=True), is_statement=False
    )


def _deposited(s: Scope) -> QuerySet[SettlementBatch]:
    return SettlementBatch.objects.filter(
        _range("deposited_on", s, as_dates=True), deposit_line__isnull=False
    )


FIGURE_SOURCES: dict[str, Figure] = {
    "orders": Figure(_orders, "channel_id", F("total"), "placed_at"),
    "shipped": Figure(
        _shipped,
        "line__order__channel_id",
        _share("line__total", "quantity", "line__quantity"),
        "shipment__shipped_at",
    ),
    "cancelled": Figure(
        _cancelled,
        "order__channel_id",
        _share("total", "quantity_cancelled", "quantity"),
        "order__cancelled_at",
    ),
    "refunded": Figure(_refunded, "ret__channel_id", F("amount"), "created_at"),
    "expected": Figure(_expected, "order__channel_id", F("gross"), "expected_on"),
    "settled_gross": Figure(
        lambda s: _lines(s).filter(kind__in=[*SALE_KINDS, LineKind.REFUND.value]),
        "batch__channel_id",
        F("gross"),
        "posted_at",
    ),
    # Fee lines carry their amount in `fee` (parsers/base.py), like a charge's own fee.
    "fees": Figure(_lines, "batch__channel_id", F("fee"), "posted_at"),
    "settled_net": Figure(
        lambda s: _lines(s).exclude(kind=LineKind.PAYOUT.value),
        "batch__channel_id",
        F("net"),
        "posted_at",
    ),
    "payouts": Figure(_payouts, "channel_id", F("payout_amount"), "deposit_date"),
    "deposited": Figure(_deposited, "channel_id", F("deposit_line__net"), "deposited_on"),
}


def _posted(s: Scope) -> QuerySet[JournalLine]:
    return JournalLine.objects.filter(
        _range("entry__posting_date", s, as_dates=True), entry__status=JournalEntry.Status.POSTED
    )


# What went to the ERP: the debits of the channel's posted entries (each entry balances).
FIGURE_SOURCES["posted"] = Figure(_posted, "entry__channel_id", F("debit"), "entry__posting_date")


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


def figures_read(scope: Scope) -> list[Row]:
    """One row per channel in scope (and its currency), every figure filled in."""
    channels = list(_channels(scope))
    rows = {c.pk: Row(c.legal_entity.code, c.code, c.pk, c.currency) for c in channels}
    for name, source in FIGURE_SOURCES.items():
        grouped = (
            source.records(scope)
            .filter(**{f"{source.channel}__in": list(rows)})
            .values(source.channel)
            .annotate(total=Sum(source.amount))
            .order_by()
        )
        for item in grouped:
            row = rows[item[source.channel]]
            row.figures[name] = quantize(Decimal(str(item["total"] or 0)), row.currency)
    for row in rows.values():
        for name in FIGURE_SOURCES:
            row.figures.setdefault(name, ZERO)
    return list(rows.values())


def daily_series(scope: Scope, names: Iterable[str]) -> dict[str, dict[date, Decimal]]:
    """Per figure, its total per day of the period (all channels in scope, in their own
    currencies added only when the scope is one currency: the caller decides)."""
    from django.db.models.functions import TruncDate

    ids = list(_channels(scope).values_list("pk", flat=True))
    series: dict[str, dict[date, Decimal]] = {}
    for name in names:
        source = FIGURE_SOURCES[name]
        day = source.when
        records = source.records(scope).filter(**{f"{source.channel}__in": ids})
        if not day.endswith(("_on", "_date")):
            records = records.annotate(day=TruncDate(day))
            day = "day"
        values = records.values(day).annotate(total=Sum(source.amount)).order_by(day)
        series[name] = {
            (v[day].date() if isinstance(v[day], datetime) else v[day]): Decimal(
                str(v["total"] or 0)
            )
            for v in values
            if v[day] is not None
        }
    return series
