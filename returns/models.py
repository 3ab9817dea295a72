"""Returns as a lifecycle: requested → authorized → received → inspected → refunded → closed,
with rejected and cancelled. Operational steps (receipt, inspection) and financial ones (refund,
tax reversal) happen at different times; each is recorded when it happens, never before."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from inventory.models import Location
from orders.models import Amount, Order, OrderLine, Payment
from orders.models import TaxLine as OrderTaxLine
from retailsync.core.models import Channel


class ReturnPolicy(models.Model):
    """Per channel; a channel without one gets the defaults."""

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="return_policy")
    window_days = models.PositiveIntegerField(default=30, help_text="From shipment.")
    inspect_reasons = models.JSONField(
        default=list,
        blank=True,
        help_text="Reasons that need inspection before refund; empty: every reason does.",
    )
    no_inspection_reasons = models.JSONField(
        default=list, blank=True, help_text="Reasons refunded on receipt, without inspection."
    )
    restocking_fee_percent = models.JSONField(
        default=dict, blank=True, help_text="Reason → percent of the line's net price."
    )
    refund_shipping = models.BooleanField(
        default=False, help_text="Refund shipping on any return (it always is on a whole one)."
    )
    refund_on_authorization_reasons = models.JSONField(
        default=list,
        blank=True,
        help_text="Trusted reasons refunded on authorization, provisionally until receipt.",
    )


class Return(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested"
        AUTHORIZED = "authorized"
        RECEIVED = "received"
        INSPECTED = "inspected"
        REFUNDED = "refunded"
        CLOSED = "closed"
        REJECTED = "rejected"
        CANCELLED = "cancelled"

    class Method(models.TextChoices):
        ORIGINAL = "original", "Original tender"
        STORE_CREDIT = "store_credit"
        GIFT_CARD = "gift_card"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns")
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="returns")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    currency = models.CharField(max_length=3)
    external_id = models.CharField(max_length=64, blank=True, help_text="The channel's refund id.")
    refund_method = models.CharField(max_length=16, choices=Method.choices, default=Method.ORIGINAL)
    refund_amount = Amount(default=0)
    refund_tax = Amount(default=0)
    refund_shipping = Amount(default=0)
    restocking_fee = Amount(default=0)
    refund_provisional = models.BooleanField(default=False)
    exchange_order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="exchange_for"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    correlation_id = models.CharField(max_length=64, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~Q(external_id=""),
                name="return_external_once",
            ),
            models.CheckConstraint(
                condition=Q(
                    refund_amount__gte=0,
                    refund_tax__gte=0,
                    refund_shipping__gte=0,
                    restocking_fee__gte=0,
                ),
                name="return_amounts_not_negative",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"RMA-{self.pk}"


class ReturnLine(models.Model):
    ret = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="return_lines")
    quantity = models.PositiveIntegerField()
    reason = models.CharField(max_length=40)
    comment = models.TextField(blank=True)
    received = models.PositiveIntegerField(default=0)
    restocked = models.PositiveIntegerField(default=0)
    damaged = models.PositiveIntegerField(default=0)
    held = models.PositiveIntegerField(default=0)
    scrapped = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0)
    replacement_sku = models.CharField(max_length=100, blank=True)
    # The refund of this line, fixed when it is refunded.
    amount = Amount(default=0, help_text="Goods, net of discount (tax excluded).")
    tax = Amount(default=0)
    restocking_fee = Amount(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="returnline_positive"),
            models.CheckConstraint(
                condition=Q(received__lte=F("quantity")), name="returnline_received_within_quantity"
            ),
            models.CheckConstraint(
                condition=Q(
                    received__gte=F("restocked")
                    + F("damaged")
                    + F("held")
                    + F("scrapped")
                    + F("missing")
                ),
                name="returnline_dispositions_within_received",
            ),
        ]

    @property
    def decided(self) -> int:
        return self.restocked + self.damaged + self.held + self.scrapped + self.missing

    @property
    def waiting(self) -> int:
        """Units received whose fate inspection has still to decide."""
        return self.received - self.decided


class ReturnReceipt(models.Model):
    """One parcel of one line arriving somewhere. Inspection decides the units where they wait,
    first in first out, so a return received in two places is inspected in each of them."""

    line = models.ForeignKey(ReturnLine, on_delete=models.CASCADE, related_name="receipts")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    decided = models.PositiveIntegerField(
        default=0, help_text="Units whose fate is settled: restocked on receipt, or inspected."
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="returnreceipt_positive"),
            models.CheckConstraint(
                condition=Q(decided__lte=F("quantity")), name="returnreceipt_decided_within"
            ),
        ]

    @property
    def waiting(self) -> int:
        return self.quantity - self.decided


class ReturnDesk(models.Model):
    """Where a member of staff receives returns (a store clerk's store): the receive form
    starts there."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="return_desk"
    )
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"{self.user} at {self.location}"


class ReturnTaxReversal(models.Model):
    """Tax given back, per tax line of the original order (jurisdiction by jurisdiction)."""

    line = models.ForeignKey(
        ReturnLine, null=True, blank=True, on_delete=models.CASCADE, related_name="tax_reversals"
    )
    ret = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="tax_reversals")
    tax_line = models.ForeignKey(OrderTaxLine, on_delete=models.PROTECT, related_name="+")
    jurisdiction = models.CharField(max_length=200, blank=True)
    amount = Amount()


class RefundPayment(models.Model):
    class Status(models.TextChoices):
        PROVISIONAL = "provisional"
        DONE = "done"

    ret = models.ForeignKey(Return, on_delete=models.PROTECT, related_name="refunds")
    method = models.CharField(max_length=16, choices=Return.Method.choices)
    payment = models.ForeignKey(
        Payment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunds",
        help_text="The original tender.",
    )
    gateway = models.CharField(max_length=100, blank=True)
    psp_refund_id = models.CharField(max_length=200, blank=True)
    currency = models.CharField(max_length=3)
    amount = Amount()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DONE)
    created_at = models.DateTimeField(default=timezone.now)


class ReturnTransition(models.Model):
    ret = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    note = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    at = models.DateTimeField(default=timezone.now)
    correlation_id = models.CharField(max_length=64, db_index=True)
