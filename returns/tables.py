"""The return list as a table (page and export), with its filters as choices and a search by
what people quote: `RMA-4`, the order's number, the channel's refund id, a returned SKU."""

from __future__ import annotations

import re
from typing import Any

import django_filters
import django_tables2 as tables
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.html import format_html

from retailsync.core.filters import channel_choices, date_bound
from retailsync.core.tables import MoneyColumn, WhenColumn, WordsColumn

from .models import Return, ReturnLine
from .rules import OPEN_STATUSES

OPEN = "open"
RMA = re.compile(r"(?i)^rma-?(\d{1,18})$")


class ReturnPageFilter(django_filters.FilterSet):  # type: ignore[misc]  # untyped
    q = django_filters.CharFilter(method="search", label="RMA, order number, refund id or SKU")
    status = django_filters.ChoiceFilter(
        choices=[(OPEN, "open (all not yet closed)"), *Return.Status.choices],
        method="by_status",
        label="Status",
        empty_label="any",
    )
    channel = django_filters.ChoiceFilter(
        field_name="channel__code", choices=channel_choices, label="Channel", empty_label="any"
    )
    opened_from = date_bound("created_at", "gte", "Opened from")
    opened_to = date_bound("created_at", "lte", "Opened to")

    class Meta:
        model = Return
        fields = ["q", "status", "channel", "opened_from", "opened_to"]

    def by_status(self, queryset: QuerySet[Return], name: str, value: str) -> QuerySet[Return]:
        if value == OPEN:
            return queryset.filter(status__in=OPEN_STATUSES)
        return queryset.filter(status=value)

    def search(self, queryset: QuerySet[Return], name: str, value: str) -> QuerySet[Return]:
        text = value.strip()
        rma = RMA.match(text)
        if rma:
            return queryset.filter(pk=int(rma.group(1)))
        bare = text.lstrip("#")
        returned = ReturnLine.objects.filter(ret=OuterRef("pk"), order_line__sku=text)
        return queryset.filter(
            Q(order__order_number__iexact=text)
            | Q(order__order_number__iexact=f"#{bare}")
            | Q(order__external_id=text)
            | Q(external_id=text)
            | Exists(returned)
        )


class ReturnTable(tables.Table):  # type: ignore[misc]  # django-tables2 has no types
    rma = tables.Column(accessor="pk", verbose_name="RMA")
    order = tables.Column(
        accessor="order__order_number",
        verbose_name="Order",
        order_by=("order__order_number", "order__external_id"),
    )
    channel = tables.Column(accessor="channel__code", verbose_name="Channel")
    status = WordsColumn(verbose_name="Status")
    created_at = WhenColumn(verbose_name="Opened")
    refund_amount = MoneyColumn(verbose_name="Refund")
    refund_tax = MoneyColumn(verbose_name="of which tax")
    currency = tables.Column(verbose_name="Currency")
    external_id = tables.Column(verbose_name="Channel refund id", default="")

    class Meta:
        model = Return
        fields: list[str] = []
        sequence = (
            "rma",
            "order",
            "channel",
            "status",
            "created_at",
            "refund_amount",
            "refund_tax",
            "currency",
            "external_id",
        )
        attrs = {"id": "returns"}
        empty_text = "No returns match."
        row_attrs = {"data-return": lambda record: record.pk}

    def render_rma(self, record: Return) -> Any:
        return format_html('<a href="/returns/{}/">RMA-{}</a>', record.pk, record.pk)

    def value_rma(self, record: Return) -> str:
        return f"RMA-{record.pk}"

    def render_order(self, record: Return) -> Any:
        name = record.order.order_number or record.order.external_id
        return format_html('<a href="/orders/{}/">{}</a>', record.order_id, name)

    def value_order(self, record: Return) -> str:
        return record.order.order_number or record.order.external_id

    def value_status(self, record: Return) -> str:
        return record.status.replace("_", " ")

    def render_status(self, record: Return) -> Any:
        provisional = " (provisional)" if record.refund_provisional else ""
        return format_html(
            '<span class="pill {}">{}</span>{}',
            record.status,
            record.status.replace("_", " "),
            provisional,
        )
