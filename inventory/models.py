"""Stock: items, locations, positions per (item, location), the ledger that explains them,
reservations for order lines, and what each channel may sell.

What must never be false is a database constraint: quantities are never negative, and reserved,
damaged and held units never exceed what is on hand.
"""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from orders.models import Order, OrderLine
from retailsync.core.models import Channel, LegalEntity


class Location(models.Model):
    class Kind(models.TextChoices):
        WAREHOUSE = "warehouse"
        STORE = "store"
        THREE_PL = "3pl", "3PL"

    code = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=200, blank=True)
    legal_entity = models.ForeignKey(
        LegalEntity, null=True, blank=True, on_delete=models.PROTECT, related_name="locations"
    )
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.code


class Item(models.Model):
    sku = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    unit_cost = models.DecimalField(max_digits=19, decimal_places=4, null=True, blank=True)
    cost_currency = models.CharField(max_length=3, blank=True)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.sku


class BundleComponent(models.Model):
    """A bundle sells as one SKU and reserves its components."""

    bundle = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="components")
    component = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="in_bundles")
    quantity = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bundle", "component"], name="bundle_component_once"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="bundle_quantity_positive"),
            models.CheckConstraint(
                condition=~Q(bundle=F("component")), name="bundle_not_its_own_component"
            ),
        ]


class Position(models.Model):
    """Units of one item at one location. `on_hand` counts every unit physically there,
    damaged and held ones included; available = on_hand − reserved − damaged − quality_hold."""

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="positions")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="positions")
    on_hand = models.PositiveIntegerField(default=0)
    reserved = models.PositiveIntegerField(default=0)
    in_transit = models.PositiveIntegerField(default=0)
    damaged = models.PositiveIntegerField(default=0)
    quality_hold = models.PositiveIntegerField(default=0)
    last_count_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "location"], name="position_once"),
            models.CheckConstraint(
                condition=Q(
                    on_hand__gte=0,
                    reserved__gte=0,
                    in_transit__gte=0,
                    damaged__gte=0,
                    quality_hold__gte=0,
                ),
                name="position_never_negative",
            ),
            models.CheckConstraint(
                condition=Q(on_hand__gte=F("reserved") + F("damaged") + F("quality_hold")),
                name="position_commitments_within_on_hand",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}@{self.location_id}"

    @property
    def available(self) -> int:
        return max(self.on_hand - self.reserved - self.damaged - self.quality_hold, 0)


class StockEvent(models.Model):
    """An event as a warehouse, store or 3PL sent it; (source, event_id) applies once."""

    class Type(models.TextChoices):
        RECEIPT = "receipt"
        ADJUSTMENT = "adjustment"
        COUNT = "count"
        RESERVATION = "reservation"
        RELEASE = "release"
        PICK = "pick"
        SHIPMENT = "shipment"
        RETURN_RECEIPT = "return_receipt"
        TRANSFER_OUT = "transfer_out"
        TRANSFER_IN = "transfer_in"
        DAMAGE = "damage"
        QUALITY_HOLD = "quality_hold"
        QUALITY_RELEASE = "quality_release"
        WRITE_OFF = "write_off"

    source = models.CharField(max_length=64)
    event_id = models.CharField(max_length=128)
    type = models.CharField(max_length=20, choices=Type.choices)
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    to_location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.IntegerField()
    occurred_at = models.DateTimeField()
    reference = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    correlation_id = models.CharField(max_length=64, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="stockevent_once")
        ]


class Reservation(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        SHIPPED = "shipped"
        RELEASED = "released"
        EXPIRED = "expired"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="reservations")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="reservations")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="reservations")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="reservations")
    quantity = models.PositiveIntegerField(help_text="Units still held for the line.")
    requested = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    correlation_id = models.CharField(max_length=64, db_index=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status="active") | Q(quantity=0), name="reservation_closed_holds_none"
            )
        ]
        indexes = [
            models.Index(
                fields=["expires_at"], name="reservation_expiring", condition=Q(status="active")
            ),
        ]


class StockMovement(models.Model):
    """The append-only ledger: every change to a position, why, and what caused it. A position
    is the sum of its movements."""

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="movements")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="movements")
    reason = models.CharField(max_length=24)
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    in_transit = models.IntegerField(default=0)
    damaged = models.IntegerField(default=0)
    quality_hold = models.IntegerField(default=0)
    event = models.ForeignKey(
        StockEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="movements"
    )
    source = models.CharField(max_length=64, blank=True)
    source_event_id = models.CharField(max_length=128, blank=True)
    reference_type = models.CharField(max_length=24, blank=True)
    reference_id = models.CharField(max_length=64, blank=True)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    correlation_id = models.CharField(max_length=64, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["item", "location", "occurred_at"])]


class ChannelAllocation(models.Model):
    """How a channel's available-to-sell is shaped: which locations feed it, safety stock, a
    share or cap of the pool, and where its orders are reserved."""

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="allocation")
    safety_stock = models.PositiveIntegerField(default=0)
    share_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    cap = models.PositiveIntegerField(null=True, blank=True)
    allow_split = models.BooleanField(default=True, help_text="Reserve a line across locations.")
    reservation_ttl_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Unpaid orders' reservations expire after this."
    )
    webhook_url = models.URLField(blank=True, help_text="Push availability changes here.")
    # Signs every push (retailsync.core.webhooks). Shown once, when issued; kept to sign with.
    webhook_secret = models.CharField(max_length=100, blank=True, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(share_percent__isnull=True)
                | Q(share_percent__gte=0, share_percent__lte=100),
                name="allocation_share_is_a_percentage",
            )
        ]

    def __str__(self) -> str:
        return f"allocation of {self.channel_id}"


class ChannelLocation(models.Model):
    allocation = models.ForeignKey(
        ChannelAllocation, on_delete=models.CASCADE, related_name="locations"
    )
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    priority = models.PositiveSmallIntegerField(default=0, help_text="Lower goes first.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["allocation", "location"], name="channel_location_once")
        ]


class ChannelItemRule(models.Model):
    allocation = models.ForeignKey(
        ChannelAllocation, on_delete=models.CASCADE, related_name="item_rules"
    )
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    safety_stock = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["allocation", "item"], name="channel_item_rule_once")
        ]


class ChannelAvailability(models.Model):
    """A channel's figure for an item; `version` grows with every change and is the feed cursor."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="availability")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    available = models.PositiveIntegerField()
    pool = models.PositiveIntegerField(help_text="Available at the channel's locations.")
    rule = models.CharField(max_length=300, blank=True, help_text="How the figure was shaped.")
    version = models.BigIntegerField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "item"], name="availability_once")
        ]
        indexes = [models.Index(fields=["channel", "version"])]


class WebhookDelivery(models.Model):
    """The delivery log of availability pushes."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    url = models.URLField()
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    correlation_id = models.CharField(max_length=64, db_index=True)


class AvailabilityDirty(models.Model):
    """An item whose channel figures must be recomputed, written with the stock change and
    drained by one refresh at a time, so the feed's versions follow commit order.

    Append-only, a row per change: writers never contend for a shared mark (a hot SKU would
    serialize on it), and a refresh can only take marks that are committed, so a change still in
    flight keeps its own mark for the next refresh instead of losing it.
    """

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+", db_index=False)
    marked_at = models.DateTimeField(default=timezone.now)


class EventBatch(models.Model):
    """A large list of stock events queued for a worker: the job a caller follows."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        DONE = "done"
        FAILED = "failed"

    events = models.JSONField(encoder=DjangoJSONEncoder, help_text="Validated events.")
    size = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    applied = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    correlation_id = models.CharField(max_length=64, db_index=True)


class ChannelLocationMapping(models.Model):
    """A channel's own id for one of our locations (Shopify's `location_id`), so what the
    channel says happened there (a refund restocked at a location) moves our stock."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=64, help_text="The channel's id of the location.")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"], name="channel_location_mapping_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.external_id} → {self.location_id}"
