"""Canonical orders: one meaning for every channel (API.md "Canonical amounts").

Amounts are Decimal(19, 4) in the order's currency. What a source had no canonical field for
stays in `metadata`; the raw message stays in the inbound store.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.db.models.expressions import Combinable
from django.utils import timezone

from retailsync.core.models import Channel, InboundMessage, LegalEntity

from .adapters.base import PAID, UNPAID

_Settable = str | float | Decimal | Combinable


def Amount(  # noqa: N802  (a field factory)
    *, default: int | None = None, help_text: str = ""
) -> models.DecimalField[_Settable, Decimal]:
    """An amount in the row's currency."""
    if default is None:
        return models.DecimalField(max_digits=19, decimal_places=4, help_text=help_text)
    return models.DecimalField(
        max_digits=19, decimal_places=4, default=default, help_text=help_text
    )


def OptionalAmount() -> models.DecimalField[_Settable | None, Decimal | None]:  # noqa: N802
    """An amount the channel may not give."""
    return models.DecimalField(max_digits=19, decimal_places=4, null=True, blank=True)


class Order(models.Model):
    class Status(models.TextChoices):
        ACCEPTED = "accepted"
        PARTIALLY_SHIPPED = "partially_shipped"
        SHIPPED = "shipped"
        CANCELLED = "cancelled"

    class PaymentState(models.TextChoices):
        """What inventory needs to know of payment, whatever the channel calls its statuses (its
        adapter reads them): an unpaid order's reservations may expire."""

        PAID = PAID
        UNPAID = UNPAID

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="orders")
    external_id = models.CharField(max_length=64)
    order_number = models.CharField(max_length=64, blank=True)
    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="orders")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACCEPTED)
    channel_status = models.CharField(max_length=40, blank=True)
    payment_state = models.CharField(
        max_length=8, choices=PaymentState.choices, default=PaymentState.PAID
    )
    placed_at = models.DateTimeField()
    source_updated_at = models.DateTimeField(null=True, blank=True)
    prices_include_tax = models.BooleanField(default=False)
    subtotal = Amount()
    discount = Amount()
    shipping = Amount()
    fees = Amount(default=0)
    tax = Amount()
    total = Amount()
    customer_email = models.CharField(max_length=200, blank=True, help_text="Masked.")
    customer_ref = models.CharField(max_length=32, blank=True, help_text="Hash, for matching.")
    fulfilment_location = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    content_hash = models.CharField(max_length=64)
    inbound_message = models.ForeignKey(
        InboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    correlation_id = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"], name="order_channel_external_id"
            ),
            models.CheckConstraint(
                condition=Q(
                    subtotal__gte=0,
                    discount__gte=0,
                    shipping__gte=0,
                    fees__gte=0,
                    tax__gte=0,
                    total__gte=0,
                ),
                name="order_amounts_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["placed_at"]),
            models.Index(fields=["status", "placed_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.order_number or self.external_id}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    external_id = models.CharField(max_length=64, blank=True)
    sku = models.CharField(max_length=100)
    name = models.CharField(max_length=300, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = Amount()
    discount = Amount()
    tax = Amount()
    total = Amount()
    is_gift_card = models.BooleanField(default=False)
    quantity_shipped = models.PositiveIntegerField(default=0)
    quantity_cancelled = models.PositiveIntegerField(default=0)
    # Units on open or completed returns: never more than shipped (the database holds it).
    quantity_returned = models.PositiveIntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderline_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity_returned__lte=F("quantity_shipped")),
                name="orderline_never_returns_more_than_shipped",
            ),
            models.CheckConstraint(
                condition=Q(quantity_shipped__lte=F("quantity") - F("quantity_cancelled")),
                name="orderline_never_ships_more_than_ordered",
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0, discount__gte=0, tax__gte=0),
                name="orderline_amounts_not_negative",
            ),
        ]
        indexes = [models.Index(fields=["sku"])]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"

    @property
    def quantity_open(self) -> int:
        return self.quantity - self.quantity_shipped - self.quantity_cancelled


class ShippingLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipping_lines")
    title = models.CharField(max_length=200, blank=True)
    code = models.CharField(max_length=100, blank=True)
    amount = Amount()
    discount = Amount(default=0)
    tax = Amount(default=0)


class OrderFee(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="fee_lines")
    kind = models.CharField(max_length=32)
    title = models.CharField(max_length=200, blank=True)
    amount = Amount()
    tax = Amount(default=0)


class TaxLine(models.Model):
    """Tax as the channel's tax engine decided it at order time: kept for audit and for the
    exact reversal when goods come back."""

    class Target(models.TextChoices):
        LINE = "line"
        SHIPPING = "shipping"
        FEE = "fee"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="tax_lines")
    target = models.CharField(max_length=10, choices=Target.choices)
    line = models.ForeignKey(
        OrderLine, null=True, blank=True, on_delete=models.CASCADE, related_name="tax_lines"
    )
    shipping_line = models.ForeignKey(
        ShippingLine, null=True, blank=True, on_delete=models.CASCADE, related_name="tax_lines"
    )
    fee = models.ForeignKey(
        OrderFee, null=True, blank=True, on_delete=models.CASCADE, related_name="tax_lines"
    )
    title = models.CharField(max_length=200, blank=True)
    jurisdiction = models.CharField(max_length=200, blank=True)
    rate = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    amount = Amount()
    provider_reference = models.CharField(max_length=200, blank=True)
    collected_by_channel = models.BooleanField(
        default=False, help_text="The marketplace collects and remits it."
    )


class DiscountAllocation(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="discount_allocations")
    line = models.ForeignKey(
        OrderLine, null=True, blank=True, on_delete=models.CASCADE, related_name="discounts"
    )
    shipping_line = models.ForeignKey(
        ShippingLine, null=True, blank=True, on_delete=models.CASCADE, related_name="discounts"
    )
    code = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=200, blank=True)
    amount = Amount()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(line__isnull=False) | Q(shipping_line__isnull=False),
                name="discount_has_target",
            )
        ]


class Payment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payments")
    gateway = models.CharField(max_length=100)
    kind = models.CharField(max_length=32, default="sale")
    method = models.CharField(max_length=100, blank=True)
    reference = models.CharField(max_length=200, blank=True, db_index=True)
    currency = models.CharField(max_length=3)
    amount = Amount()
    authorized_amount = OptionalAmount()
    captured_amount = OptionalAmount()
    metadata = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)


class Shipment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments")
    external_id = models.CharField(max_length=100, blank=True)
    location = models.CharField(max_length=64)
    shipped_at = models.DateTimeField()
    tracking = models.CharField(max_length=200, blank=True)
    correlation_id = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order", "external_id"],
                condition=~Q(external_id=""),
                name="shipment_once_per_external_id",
            )
        ]


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="lines")
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="shipment_lines")
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="shipmentline_quantity_positive"
            )
        ]


class OrderChange(models.Model):
    """What an update payload, a shipment or a cancellation changed, field by field."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=20)
    changes = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    inbound_message = models.ForeignKey(
        InboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    correlation_id = models.CharField(max_length=64, db_index=True)
    at = models.DateTimeField(default=timezone.now)
