"""Reads of canonical orders for the API, pages and dashboards."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Count, Prefetch, QuerySet, Sum

from retailsync.core.models import InboundMessage

from .models import Order, OrderLine, Shipment, TaxLine


def orders_summary() -> list[dict[str, Any]]:
    """Orders and value per channel, status and currency: the home page's table."""
    return list(
        Order.objects.values("channel__code", "status", "currency")
        .annotate(n=Count("pk"), value=Sum("total"))
        .order_by("channel__code", "status", "currency")
    )


class OrderFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter is untyped
    """The filters of the order list, in the API (query parameters) and on its page."""

    channel = django_filters.CharFilter(field_name="channel__code", label="Channel")
    status = django_filters.ChoiceFilter(choices=Order.Status.choices, label="Status")
    placed_after = django_filters.IsoDateTimeFilter(field_name="placed_at", lookup_expr="gte")
    placed_before = django_filters.IsoDateTimeFilter(field_name="placed_at", lookup_expr="lt")
    placed_date = django_filters.DateFilter(field_name="placed_at", lookup_expr="date")
    external_id = django_filters.CharFilter()
    sku = django_filters.CharFilter(field_name="lines__sku", distinct=True)

    class Meta:
        model = Order
        fields = ["channel", "status", "external_id"]


def orders_with_details() -> QuerySet[Order]:
    """Orders with everything their detail shows, in as many queries as there are kinds."""
    return Order.objects.select_related("channel").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("position")),
        Prefetch("tax_lines", queryset=TaxLine.objects.order_by("pk")),
        "shipping_lines",
        "payments",
        Prefetch(
            "shipments", queryset=Shipment.objects.order_by("pk").prefetch_related("lines__line")
        ),
    )


def order_status(*, order_id: int) -> str:
    status: str = Order.objects.filter(pk=order_id).values_list("status", flat=True).get()
    return status


def order_channel_id(*, order_id: int) -> int | None:
    """The id of the channel an order came from; None for an order that does not exist."""
    return Order.objects.filter(pk=order_id).values_list("channel_id", flat=True).first()


def order_raw_messages(order: Order) -> QuerySet[InboundMessage]:
    """The inbound messages that made an order what it is: its first, and every update's."""
    return InboundMessage.objects.filter(
        pk__in={
            order.inbound_message_id,
            *order.changes.values_list("inbound_message_id", flat=True),
        }
        - {None}
    ).order_by("pk")


def order_label(*, order_id: int) -> str:
    """An order as people know it, for texts other apps write (`web order WS-6018`)."""
    row = (
        Order.objects.filter(pk=order_id)
        .values_list("channel__code", "order_number", "external_id")
        .first()
    )
    if row is None:
        return f"order {order_id}"
    code, number, external_id = row
    return f"{code} order {number or external_id}"
