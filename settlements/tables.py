"""The batch list and a batch's lines as tables: the same columns sort the page and make its
export (CSV, XLSX) of exactly the filtered rows. The cells on the pages stay the settlement
templates' own (`_batch_cells.html`, the lines table); these give the order, the pages and
the files. Filters add a search by what finance quotes: the payout id, an order number."""

from __future__ import annotations

from typing import Any

import django_filters
import django_tables2 as tables
from django.db.models import Q, QuerySet

from retailsync.core.filters import date_bound
from retailsync.core.tables import MoneyColumn, WhenColumn, WordsColumn

from .forms import BatchPageFilter, LinePageFilter
from .matching.exceptions import REASONS
from .models import SettlementBatch, SettlementLine


class BatchSearchFilter(BatchPageFilter):
    q = django_filters.CharFilter(method="search", label="Payout id")
    deposited_from = date_bound("deposit_date", "gte", "Deposit from")
    deposited_to = date_bound("deposit_date", "lte", "Deposit to")
    variance = django_filters.ChoiceFilter(
        choices=[("nonzero", "with a variance"), ("zero", "balanced")],
        method="by_variance",
        label="Variance",
        empty_label="any",
    )

    class Meta(BatchPageFilter.Meta):
        fields = [
            "q",
            "provider",
            "channel",
            "deposit_status",
            "variance",
            "deposited_from",
            "deposited_to",
        ]

    def search(self, queryset: QuerySet[SettlementBatch], name: str, value: str) -> Any:
        return queryset.filter(key__icontains=value.strip())

    def by_variance(self, queryset: QuerySet[SettlementBatch], name: str, value: str) -> Any:
        # Within a cent is no variance: the payout identity holds (settlement_figures).
        off = Q(variance__gte="0.01") | Q(variance__lte="-0.01")
        return queryset.filter(off) if value == "nonzero" else queryset.exclude(off)


class LineSearchFilter(LinePageFilter):
    posted_from = date_bound("posted_at", "gte", "Posted from")
    posted_to = date_bound("posted_at", "lte", "Posted to")

    class Meta(LinePageFilter.Meta):
        fields = ["outcome", "kind", "ref", "posted_from", "posted_to"]

    def by_reference(
        self, queryset: QuerySet[SettlementLine], name: str, value: str
    ) -> QuerySet[SettlementLine]:
        """A reference the line carries, or the number of the order it is matched to."""
        text = value.strip()
        return queryset.filter(
            Q(order_ref=text)
            | Q(payment_ref=text)
            | Q(line_key=text)
            | Q(order__order_number__iexact=text)
            | Q(order__external_id=text)
        )


class BatchTable(tables.Table):  # type: ignore[misc]  # django-tables2 has no types
    """Column for column the cells of `_batch_cells.html`."""

    provider = tables.Column(verbose_name="Provider")
    key = tables.Column(verbose_name="Payout id")
    channel = tables.Column(accessor="channel__code", verbose_name="Channel", default="")
    period_start = tables.Column(verbose_name="Period")
    deposit_date = tables.Column(verbose_name="Deposit date")
    currency = tables.Column(verbose_name="Cur.")
    gross = MoneyColumn(verbose_name="Gross")
    fees = MoneyColumn(verbose_name="Fees")
    refunds = MoneyColumn(verbose_name="Refunds")
    net = MoneyColumn(verbose_name="Net")
    payout_amount = MoneyColumn(verbose_name="Payout")
    variance = MoneyColumn(verbose_name="Variance")
    matched = tables.Column(verbose_name="Matched", attrs={"th": {"class": "num"}})
    identity = tables.Column(
        accessor="variance", verbose_name="Identity", orderable=False, exclude_from_export=True
    )
    lines_count = tables.Column(verbose_name="Lines", visible=False)
    deposit_status = WordsColumn(verbose_name="Deposit")

    class Meta:
        model = SettlementBatch
        fields: list[str] = []
        sequence = (
            "provider",
            "key",
            "channel",
            "period_start",
            "deposit_date",
            "currency",
            "gross",
            "fees",
            "refunds",
            "net",
            "payout_amount",
            "variance",
            "matched",
            "identity",
            "lines_count",
            "deposit_status",
        )
        attrs = {"id": "batches"}
        empty_text = "No batches match."


class LineTable(tables.Table):  # type: ignore[misc]  # django-tables2 has no types
    """Column for column the lines table of `batch.html`."""

    row = tables.Column(verbose_name="Row", attrs={"th": {"class": "num"}})
    kind = tables.Column(verbose_name="Kind")
    order_ref = tables.Column(verbose_name="References", default="")
    posted_at = WhenColumn(verbose_name="Posted")
    gross = MoneyColumn(verbose_name="Gross")
    fee = MoneyColumn(verbose_name="Fee")
    net = MoneyColumn(verbose_name="Net")
    outcome = WordsColumn(verbose_name="Outcome")
    reason = tables.Column(verbose_name="Reason", default="")
    order = tables.Column(
        accessor="order__order_number",
        verbose_name="Order",
        default="",
        order_by=("order__order_number", "order__external_id"),
    )
    currency = tables.Column(verbose_name="Currency", visible=False)
    payment_ref = tables.Column(verbose_name="Payment reference", visible=False, default="")

    class Meta:
        model = SettlementLine
        fields: list[str] = []
        sequence = (
            "row",
            "kind",
            "order_ref",
            "posted_at",
            "gross",
            "fee",
            "net",
            "outcome",
            "reason",
            "order",
            "currency",
            "payment_ref",
        )
        attrs = {"id": "lines"}
        empty_text = "No lines match."

    def value_reason(self, value: str) -> str:
        return REASONS.get(value, value.replace("_", " "))

    def value_order(self, record: SettlementLine) -> str:
        if record.order is None:
            return ""
        return record.order.order_number or record.order.external_id
