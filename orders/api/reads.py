"""Staff reads of orders (API.md): the list with its filters, and one order with everything."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from rest_framework import generics, serializers

from retailsync.core.money import quantize

from ..models import Order, Shipment
from ..selectors import OrderFilter, orders_with_details


def amount(value: Decimal | None, currency: str) -> str | None:
    return None if value is None else f"{quantize(value, currency):f}"


def unit_amount(value: Decimal, currency: str) -> str:
    """A unit price keeps sub-cent precision (Amazon's 10.00 for 3 is 3.3333 each)."""
    rounded = quantize(value, currency)
    return f"{rounded:f}" if rounded == value else f"{value.normalize():f}"


class OrderOutput(serializers.ModelSerializer[Order]):
    channel: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    lines = serializers.SerializerMethodField()
    totals = serializers.SerializerMethodField()
    tax_lines = serializers.SerializerMethodField()
    shipping_lines = serializers.SerializerMethodField()
    payments = serializers.SerializerMethodField()
    shipments = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "channel",
            "external_id",
            "order_number",
            "currency",
            "status",
            "channel_status",
            "placed_at",
            "prices_include_tax",
            "lines",
            "totals",
            "tax_lines",
            "shipping_lines",
            "payments",
            "shipments",
            "fulfilment_location",
            "customer_email",
            "correlation_id",
            "metadata",
            "created_at",
            "updated_at",
            "cancelled_at",
        ]

    def get_lines(self, order: Order) -> list[dict[str, Any]]:
        c = order.currency
        return [
            {
                "id": line.pk,
                "external_id": line.external_id,
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": unit_amount(line.unit_price, c),
                "discount": amount(line.discount, c),
                "tax": amount(line.tax, c),
                "total": amount(line.total, c),
                "quantity_shipped": line.quantity_shipped,
                "quantity_cancelled": line.quantity_cancelled,
                "is_gift_card": line.is_gift_card,
            }
            for line in order.lines.all()
        ]

    def get_totals(self, order: Order) -> dict[str, str | None]:
        c = order.currency
        return {
            name: amount(getattr(order, name), c)
            for name in ("subtotal", "discount", "shipping", "fees", "tax", "total")
        }

    def get_tax_lines(self, order: Order) -> list[dict[str, Any]]:
        return [
            {
                "target": t.target,
                "line_id": t.line_id,
                "title": t.title,
                "jurisdiction": t.jurisdiction,
                "rate": None if t.rate is None else f"{t.rate.normalize():f}",
                "amount": amount(t.amount, order.currency),
                "provider_reference": t.provider_reference,
                "collected_by_channel": t.collected_by_channel,
            }
            for t in order.tax_lines.all()
        ]

    def get_shipping_lines(self, order: Order) -> list[dict[str, Any]]:
        return [
            {
                "title": s.title,
                "code": s.code,
                "amount": amount(s.amount, order.currency),
                "discount": amount(s.discount, order.currency),
                "tax": amount(s.tax, order.currency),
            }
            for s in order.shipping_lines.all()
        ]

    def get_payments(self, order: Order) -> list[dict[str, Any]]:
        return [
            {
                "gateway": p.gateway,
                "kind": p.kind,
                "method": p.method,
                "reference": p.reference,
                "currency": p.currency,
                "amount": amount(p.amount, p.currency),
                "authorized_amount": amount(p.authorized_amount, p.currency),
                "captured_amount": amount(p.captured_amount, p.currency),
            }
            for p in order.payments.all()
        ]

    def get_shipments(self, order: Order) -> list[dict[str, Any]]:
        return [ShipmentOutput(s).data for s in order.shipments.all()]


class ShipmentOutput(serializers.ModelSerializer[Shipment]):
    lines = serializers.SerializerMethodField()

    class Meta:
        model = Shipment
        fields = [
            "id",
            "external_id",
            "location",
            "shipped_at",
            "tracking",
            "lines",
            "correlation_id",
        ]

    def get_lines(self, shipment: Shipment) -> list[dict[str, Any]]:
        return [
            {"line_id": sl.line_id, "sku": sl.line.sku, "quantity": sl.quantity}
            for sl in shipment.lines.all()
        ]


class OrderListApi(generics.ListAPIView[Order]):
    serializer_class = OrderOutput
    filterset_class = OrderFilter

    def get_queryset(self) -> QuerySet[Order]:
        return orders_with_details().order_by("-placed_at", "-pk")


class OrderDetailApi(generics.RetrieveAPIView[Order]):
    serializer_class = OrderOutput

    def get_queryset(self) -> QuerySet[Order]:
        return orders_with_details()
