"""Orders a person might match an unmatched line to, best fit first.

A line the rules could not place usually has a wrong or missing reference, not a wrong amount:
so the orders offered are those of the batch's channel (any channel when the batch has none),
in the line's currency, placed within `WINDOW` of the line's date, ranked by how far the
amount is from the line's gross (the nearest of the order's open expectations and its total),
then by how far apart the dates are (to a tenth of a day), then by how alike the references
read. Two queries
whatever the number of orders: the ranked orders, and their payment references.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from difflib import SequenceMatcher

from django.db.models import (
    Case,
    DateTimeField,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Abs, Greatest

from orders.models import Order, Payment

from .models import ExpectedSettlement, SettlementLine

WINDOW = timedelta(days=14)
_SCALE = Decimal("0.0001")
# Ranked in the database by amount and date; the references then order what ties, among a few
# more than are shown.
_OVERFETCH = 3


def _money() -> DecimalField[Decimal, Decimal]:
    return DecimalField(max_digits=19, decimal_places=4)


@dataclass(frozen=True, slots=True)
class Candidate:
    order: Order
    amount: Decimal  # the order's figure nearest the line: an open expectation's gross or total
    amount_is_expected: bool
    difference: Decimal  # |amount − line gross|
    days_apart: Decimal  # between the order's placing and the line's date
    similarity: Decimal  # 0 to 1: the closest pair of the line's and the order's references


def line_date(line: SettlementLine) -> datetime:
    """The line's own date, else its batch's (deposit date, period end), else when it came."""
    if line.posted_at is not None:
        return line.posted_at
    batch = line.batch
    day = batch.deposit_date or batch.period_end
    return datetime.combine(day, time(), tzinfo=UTC) if day else batch.created_at


def _refs(*texts: str) -> list[str]:
    return [t.strip().lstrip("#").lower() for t in texts if t and t.strip().lstrip("#")]


def _similarity(line_refs: list[str], order: Order) -> Decimal:
    order_refs = _refs(
        order.external_id, order.order_number, *(p.reference for p in order.payments.all())
    )
    best = max(
        (SequenceMatcher(None, a, b).ratio() for a in line_refs for b in order_refs), default=0.0
    )
    return Decimal(str(round(best, 3)))


def line_candidates(line: SettlementLine, limit: int = 10) -> list[Candidate]:
    when = line_date(line)
    gross = Value(line.gross, output_field=_money())
    at = Value(when, output_field=DateTimeField())
    nearest = (
        ExpectedSettlement.objects.filter(
            order=OuterRef("pk"), status=ExpectedSettlement.Status.OPEN, currency=line.currency
        )
        .annotate(off=Abs(F("gross") - gross))
        .order_by("off", "pk")
    )
    orders = Order.objects.filter(
        currency=line.currency, placed_at__gte=when - WINDOW, placed_at__lte=when + WINDOW
    )
    if line.batch.channel_id is not None:
        orders = orders.filter(channel_id=line.batch.channel_id)
    ranked = (
        orders.annotate(
            expected_gross=Subquery(nearest.values("gross")[:1], output_field=_money()),
            expected_off=Subquery(nearest.values("off")[:1], output_field=_money()),
            total_off=ExpressionWrapper(Abs(F("total") - gross), output_field=_money()),
            difference=Case(
                When(expected_off__lte=F("total_off"), then=F("expected_off")),
                default=F("total_off"),
                output_field=_money(),
            ),
            apart=Greatest(
                ExpressionWrapper(F("placed_at") - at, output_field=DurationField()),
                ExpressionWrapper(at - F("placed_at"), output_field=DurationField()),
                output_field=DurationField(),
            ),
        )
        .select_related("channel")
        .prefetch_related(Prefetch("payments", queryset=Payment.objects.order_by("pk")))
        .order_by("difference", "apart", "pk")[: limit * _OVERFETCH]
    )
    line_refs = _refs(line.order_ref, line.payment_ref, line.related_ref, line.description)
    found = []
    for order in ranked:
        use_expected = order.expected_off is not None and order.expected_off <= order.total_off
        seconds = abs((order.placed_at - when).total_seconds())
        found.append(
            Candidate(
                order=order,
                amount=Decimal(order.expected_gross if use_expected else order.total),
                amount_is_expected=use_expected,
                # Rounded to the stored scale: SQLite (the demo) computes in binary floats.
                difference=Decimal(order.difference).quantize(_SCALE),
                days_apart=(Decimal(seconds) / 86400).quantize(Decimal("0.1")),
                similarity=_similarity(line_refs, order),
            )
        )
    found.sort(key=lambda c: (c.difference, c.days_apart, -c.similarity, c.order.pk))
    return found[:limit]
