"""The integration core: who sends us what, what they sent, what followed, and what needs a person."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone


class LegalEntity(models.Model):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, help_text="Functional (book) currency, ISO 4217.")
    erp = models.CharField(max_length=32, blank=True, help_text="ERP adapter that takes journals.")

    class Meta:
        verbose_name_plural = "legal entities"

    def __str__(self) -> str:
        return self.code


class Channel(models.Model):
    class Source(models.TextChoices):
        SHOPIFY = "shopify", "Shopify"
        AMAZON = "amazon", "Amazon SP-API"
        POS = "pos", "Store POS (Square)"
        MAGENTO = "magento", "Adobe Commerce"
        WOOCOMMERCE = "woocommerce", "WooCommerce"
        CANONICAL = "canonical", "Canonical JSON"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    currency = models.CharField(max_length=3)
    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="channels")
    # Shared secret for signed webhooks (Shopify HMAC). Needed in clear to verify signatures.
    webhook_secret = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.code


class ApiToken(models.Model):
    """A bearer token, stored as its SHA-256 digest: shown once, never recoverable.

    It belongs either to a channel (the channel's own endpoints) or to a staff user.
    """

    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="First characters, to tell tokens apart.")
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.CASCADE, related_name="tokens"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Set when the token is rotated out: it keeps working until then, so the channel can switch.
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(channel__isnull=True) & Q(user__isnull=False))
                | (Q(channel__isnull=False) & Q(user__isnull=True)),
                name="apitoken_one_owner",
            )
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.channel or self.user})"

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class CredentialsGeneration(models.Model):
    """One number that changes whenever a channel, legal entity or token row changes.

    Database triggers bump it (migration 0002), whatever wrote the row: the admin, a service, a
    shell. Each process keeps the tokens it has verified only as long as this number stays the
    same, so a revoked token or a disabled channel is refused by every process at once.
    """

    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="credentials_one_row")]


class InboundMessage(models.Model):
    """Every request body a channel sent, exactly as received, before anything reads it."""

    class Status(models.TextChoices):
        RECEIVED = "received"
        PROCESSED = "processed"
        DUPLICATE = "duplicate"
        REJECTED = "rejected"
        FAILED = "failed"

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="messages")
    kind = models.CharField(max_length=32, help_text="order, order_batch, …")
    # The channel's own delivery id (X-Shopify-Webhook-Id, event id): what a redelivery repeats.
    message_id = models.CharField(max_length=128, blank=True)
    topic = models.CharField(max_length=64, blank=True)
    body = models.BinaryField()
    content_type = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=dict)
    correlation_id = models.CharField(max_length=64, db_index=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    error = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder)
    result = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    attempts = models.PositiveIntegerField(default=1)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="redeliveries"
    )

    class Meta:
        indexes = [
            models.Index(fields=["channel", "message_id"]),
            models.Index(fields=["status", "received_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} from {self.channel_id}"

    @property
    def text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")


class DomainEvent(models.Model):
    """The transactional outbox: written with the change it reports, dispatched after commit."""

    name = models.CharField(max_length=64, db_index=True)
    aggregate_type = models.CharField(max_length=32)
    aggregate_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    correlation_id = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # What the event contends for (an order's SKUs): the relay takes the oldest waiting event
    # of every lane before the second of any, so a busy lane never holds the others back.
    lane = models.CharField(max_length=100, blank=True, default="", db_default="")

    class Meta:
        indexes = [
            models.Index(fields=["aggregate_type", "aggregate_id"]),
            models.Index(
                fields=["created_at"], name="event_undispatched", condition=Q(dispatched_at=None)
            ),
            models.Index(
                fields=["lane", "id"], name="event_waiting_lane", condition=Q(dispatched_at=None)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.aggregate_type}:{self.aggregate_id}"


class EventReceipt(models.Model):
    """A subscriber has handled an event: the memory that makes each subscriber idempotent."""

    event = models.ForeignKey(DomainEvent, on_delete=models.CASCADE, related_name="receipts")
    subscriber = models.CharField(max_length=128)
    handled_at = models.DateTimeField(default=timezone.now)
    correlation_id = models.CharField(max_length=64, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "subscriber"], name="eventreceipt_once")
        ]


class EventFailure(models.Model):
    """A subscriber failed on an event: how often, the last error, and when it may be tried
    again (backoff). After `EVENT_RETRY_TRIES` tries the event is poison: the sweep leaves it
    for a person (a `poison_event` exception) until it is replayed."""

    event = models.ForeignKey(DomainEvent, on_delete=models.CASCADE, related_name="failures")
    subscriber = models.CharField(max_length=128)
    tries = models.PositiveIntegerField(default=1)
    last_error = models.TextField(blank=True)
    failed_at = models.DateTimeField(default=timezone.now)
    retry_at = models.DateTimeField()
    poisoned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "subscriber"], name="eventfailure_once")
        ]

    def __str__(self) -> str:
        return f"event {self.event_id} / {self.subscriber}: {self.tries} tries"


class ExceptionItem(models.Model):
    """One thing a person must act on, whatever app raised it."""

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"
        IGNORED = "ignored"

    kind = models.CharField(max_length=48, db_index=True)
    reason = models.TextField()
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    # What it concerns, as "type:id" plus a readable label; apps above the core own the types.
    object_type = models.CharField(max_length=48, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_label = models.CharField(max_length=200, blank=True)
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="exceptions"
    )
    # Repeats of the same open problem (a webhook retried) count here instead of piling up.
    dedupe_key = models.CharField(max_length=200, blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    correlation_id = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_seen_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution = models.TextField(blank=True)
    # Who works it now; nobody until someone takes it (the "unassigned" filter).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="exceptions_owned",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=Q(status="open") & ~Q(dedupe_key=""),
                name="exception_one_open_per_key",
            ),
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True)
                | (~Q(status="open") & Q(resolved_at__isnull=False)),
                name="exception_resolved_has_time",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind}: {self.reason[:60]}"

    def age(self, now=None) -> timedelta:  # type: ignore[no-untyped-def]
        return (now or timezone.now()) - self.created_at


class ExceptionComment(models.Model):
    """What the people working an exception told each other, oldest first. Never edited."""

    exception = models.ForeignKey(ExceptionItem, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["exception", "at"])]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="exceptioncomment_has_text")
        ]

    def __str__(self) -> str:
        return f"{self.author_id} on exception {self.exception_id}"


class AuditRecord(models.Model):
    """Every write a person made, in the back office or through the staff API, and every write a
    channel made outside its own inbound messages (shipments, cancellations): who, when, what
    they asked for and what came of it. Written in the same transaction as the write itself."""

    class Result(models.TextChoices):
        DONE = "done"
        REFUSED = "refused"  # a 4xx, or a back-office form that said why not
        FAILED = "failed"  # a 5xx: nothing of the attempt was kept

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    channel = models.ForeignKey(
        Channel,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The channel that wrote, with its token, when no person did.",
    )
    actor_name = models.CharField(max_length=150)
    via = models.CharField(max_length=16, help_text="admin, backoffice or api")
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    status_code = models.PositiveSmallIntegerField()
    action = models.CharField(
        max_length=200, blank=True, help_text="The business action asked for, e.g. return refund."
    )
    result = models.CharField(max_length=8, choices=Result.choices, default=Result.DONE)
    outcome = models.TextField(
        blank=True, help_text="What came of it, e.g. refund approved for RMA-4: $28.42."
    )
    summary = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    correlation_id = models.CharField(max_length=64, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.actor_name}: {self.action or self.path} ({self.result})"
