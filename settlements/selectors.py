"""Reads of settlements: the batch list with its filters, a batch's lines, an order's money."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import django_filters
from django.db.models import Count, QuerySet, Sum

from retailsync.core.filters import BooleanFilter

from .models import ExpectedSettlement, Outcome, Provider, SettlementBatch, SettlementLine
from .parsers.base import LineKind


def batches_listed() -> QuerySet[SettlementBatch]:
    return SettlementBatch.objects.select_related("channel", "legal_entity").order_by(
        "-created_at", "-id"
    )


class BatchFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter is untyped
    provider = django_filters.ChoiceFilter(choices=Provider.choices)
    channel = django_filters.CharFilter(field_name="channel__code")
    deposit_status = django_filters.ChoiceFilter(choices=SettlementBatch.DepositStatus.choices)
    is_statement = BooleanFilter()
    key = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = SettlementBatch
        fields = ["provider", "channel", "deposit_status", "is_statement", "key"]


class LineFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter is untyped
    outcome = django_filters.ChoiceFilter(choices=Outcome.choices)
    kind = django_filters.ChoiceFilter(choices=[(k.value, k.value) for k in LineKind])
    reason = django_filters.CharFilter()
    ref = django_filters.CharFilter(method="by_reference")

    class Meta:
        model = SettlementLine
        fields = ["outcome", "kind", "reason", "ref"]

    def by_reference(
        self, queryset: QuerySet[SettlementLine], name: str, value: str
    ) -> QuerySet[SettlementLine]:
        from django.db.models import Q

        return queryset.filter(Q(order_ref=value) | Q(payment_ref=value) | Q(line_key=value))


@dataclass(frozen=True, slots=True)
class OrderSettlement:
    """An order's money: expected, settled, and the difference."""

    status: str  # "not expected", "expected", "settled", "variance"
    expected: Decimal
    settled: Decimal
    fees: Decimal
    variance: Decimal
    expectations: list[ExpectedSettlement]
    lines: list[SettlementLine]


def order_settlement(order_id: int) -> OrderSettlement:
    expectations = list(ExpectedSettlement.objects.filter(order_id=order_id).order_by("id"))
    lines = list(
        SettlementLine.objects.filter(order_id=order_id)
        .select_related("batch")
        .order_by("posted_at", "id")
    )
    expected = sum((e.gross for e in expectations), Decimal(0))
    money = [ln for ln in lines if ln.outcome in (Outcome.MATCHED, Outcome.VARIANCE)]
    settled = sum(
        (
            ln.gross
            for ln in money
            if ln.kind in ("charge", "shipping", "tax", "promotion", "refund")
        ),
        Decimal(0),
    )
    fees = sum((ln.fee for ln in money), Decimal(0)) + sum(
        (ln.gross for ln in money if ln.kind in ("fee", "commission")), Decimal(0)
    )
    if not expectations and not lines:
        status = "not expected"
    elif any(e.status == ExpectedSettlement.Status.VARIANCE for e in expectations) or any(
        ln.outcome == Outcome.VARIANCE for ln in lines
    ):
        status = "variance"
    elif expectations and all(e.status == ExpectedSettlement.Status.SETTLED for e in expectations):
        status = "settled"
    else:
        status = "expected"
    return OrderSettlement(status, expected, settled, fees, settled - expected, expectations, lines)


def batch_totals_by(batch: SettlementBatch, field: str) -> list[dict[str, object]]:
    """The batch's lines counted and summed by `field` (outcome or kind)."""
    return list(
        SettlementLine.objects.filter(batch=batch)
        .values(field)
        .annotate(n=Count("id"), gross=Sum("gross"), fee=Sum("fee"), net=Sum("net"))
        .order_by(field)
    )
