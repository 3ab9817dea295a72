from typing import TYPE_CHECKING

from django.contrib import admin

from retailsync.core.admin import ReadOnlyAdmin

from .models import Order, OrderChange, OrderLine, Payment, Shipment, TaxLine

if TYPE_CHECKING:  # Django's admin classes are generic only in their stubs
    _LineInline = admin.TabularInline[OrderLine, Order]
    _TaxInline = admin.TabularInline[TaxLine, Order]
    _PaymentInline = admin.TabularInline[Payment, Order]
else:
    _LineInline = _TaxInline = _PaymentInline = admin.TabularInline


class LineInline(_LineInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = [
        "position",
        "sku",
        "name",
        "quantity",
        "unit_price",
        "discount",
        "tax",
        "total",
        "quantity_shipped",
        "quantity_cancelled",
    ]
    readonly_fields = fields  # type: ignore[assignment]


class TaxInline(_TaxInline):
    model = TaxLine
    extra = 0
    can_delete = False
    fields = ["target", "line", "title", "jurisdiction", "rate", "amount", "collected_by_channel"]
    readonly_fields = fields  # type: ignore[assignment]


class PaymentInline(_PaymentInline):
    model = Payment
    extra = 0
    can_delete = False
    fields = ["gateway", "kind", "reference", "amount", "currency"]
    readonly_fields = fields  # type: ignore[assignment]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    """Orders change through their channel's messages, shipments and cancellations, not by hand."""

    list_display = [
        "pk",
        "channel",
        "external_id",
        "order_number",
        "status",
        "placed_at",
        "total",
        "currency",
    ]
    list_filter = ["status", "channel", "currency"]
    search_fields = ["=external_id", "order_number", "=correlation_id", "lines__sku"]
    date_hierarchy = "placed_at"
    inlines = [LineInline, TaxInline, PaymentInline]


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyAdmin):
    list_display = ["pk", "order", "location", "shipped_at", "tracking"]
    search_fields = ["=order__external_id", "tracking"]


@admin.register(OrderChange)
class OrderChangeAdmin(ReadOnlyAdmin):
    list_display = ["order", "kind", "at", "correlation_id"]
    list_filter = ["kind"]
