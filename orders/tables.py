"""The order list as a table (page and export) and its filters as choices, with a search by
the numbers people see: the channel's order number (`WS-6018`, `#1001`), its external id, a
SKU sold on the order."""

from __future__ import annotations

from typing import Any

import django_filters
import django_tables2 as tables
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.html import format_html

from retailsync.core.filters import channel_choices, date_bound
from retailsync.core.tables import MoneyColumn, WhenColumn, WordsColumn

from .models import Order, OrderLine
from .selectors import OrderFilter


class OrderPageFilter(OrderFilter):
    q = django_filters.CharFilter(method="search", label="Order number, external id or SKU")
    channel = django_filters.ChoiceFilter(
        field_name="channel__code", choices=channel_choices, label="Channel", empty_label="any"
    )
    status = django_filters.ChoiceFilter(
        choices=Order.Status.choices, label="Status", empty_label="any"
    )
    placed_from = date_bound("placed_at", "gte", "Placed from")
    placed_to = date_bound("placed_at", "lte", "Placed to")

    class Meta(OrderFilter.Meta):
        fields = ["q", "channel", "status", "placed_from", "placed_to"]

    def search(self, queryset: QuerySet[Order], name: str, value: str) -> QuerySet[Order]:
        text = value.strip()
        bare = text.lstrip("#")
        sells = OrderLine.objects.filter(order=OuterRef("pk"), sku=text)
        return queryset.filter(
            Q(order_number__iexact=text)
            | Q(order_number__iexact=f"#{bare}")
            | Q(external_id=text)
            | Exists(sells)
        )


class OrderTable(tables.Table):  # type: ignore[misc]  # django-tables2 has no types
    order = tables.Column(
        accessor="order_number", verbose_name="Order", order_by=("order_number", "external_id")
    )
    channel = tables.Column(accessor="channel__code", verbose_name="Channel")
    external_id = tables.Column(verbose_name="External id")
    placed_at = WhenColumn(verbose_name="Placed")
    status = WordsColumn(verbose_name="Status")
    subtotal = MoneyColumn(verbose_name="Subtotal")
    discount = MoneyColumn(verbose_name="Discount")
    shipping = MoneyColumn(verbose_name="Shipping")
    tax = MoneyColumn(verbose_name="Tax")
    total = MoneyColumn(verbose_name="Total")
    currency = tables.Column(verbose_name="Currency")

    class Meta:
        model = Order
        fields: list[str] = []
        sequence = (
            "order",
            "channel",
            "external_id",
            "placed_at",
            "status",
            "subtotal",
            "discount",
            "shipping",
            "tax",
            "total",
            "currency",
        )
        attrs = {"id": "orders"}
        empty_text = "No orders match."
        row_attrs = {"data-order": lambda record: record.pk}

    def render_order(self, record: Order) -> Any:
        return format_html(
            '<a href="/orders/{}/">{}</a>', record.pk, record.order_number or record.external_id
        )

    def value_order(self, record: Order) -> str:
        return record.order_number or record.external_id
