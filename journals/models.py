"""The ledger side: a chart of accounts per legal entity, the rules that map amounts to accounts,
accounting periods, and the summarized journal entries with links down to every source record.

Invariants held by the database: amounts never negative and one side per line; one accumulating
draft per grouping key; each source event posted once (`PostedSource`); a posted entry reversed
at most once; and on PostgreSQL, every entry balanced at commit (a deferred constraint trigger,
migration 0002) and the lines of a posted entry never changed.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from orders.models import Amount, Order
from retailsync.core.models import Channel, DomainEvent, LegalEntity


class AmountKind(models.TextChoices):
    """What an amount is, whatever the posting rule that produced it: what a mapping rule maps."""

    REVENUE = "revenue", "Sales revenue"
    SHIPPING_REVENUE = "shipping_revenue", "Shipping revenue"
    DISCOUNT = "discount", "Discounts"
    TAX_PAYABLE = "tax_payable", "Tax payable"
    CLEARING = "clearing", "Channel clearing"
    COGS = "cogs", "Cost of goods sold"
    INVENTORY = "inventory", "Inventory"
    FEES = "fees", "Payment fees"
    COMMISSION = "commission", "Marketplace commissions"
    ADVERTISING = "advertising", "Advertising"
    RESERVE = "reserve", "Reserves held"
    CHARGEBACK = "chargeback", "Chargebacks"
    CASH_IN_TRANSIT = "cash_in_transit", "Cash in transit"
    BANK = "bank", "Bank"
    WRITE_OFF = "write_off", "Write-offs"
    RESTOCKING_FEE = "restocking_fee", "Restocking fees"
    STORE_CREDIT_LIABILITY = "store_credit_liability", "Store credit liability"
    GIFT_CARD_LIABILITY = "gift_card_liability", "Gift card liability"
    INVENTORY_WRITEDOWN = "inventory_writedown", "Inventory write-downs"
    FX_DIFFERENCE = "fx_difference", "FX differences"


class Account(models.Model):
    class Type(models.TextChoices):
        ASSET = "asset"
        LIABILITY = "liability"
        EQUITY = "equity"
        INCOME = "income"
        EXPENSE = "expense"

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=10, choices=Type.choices)
    erp_account_id = models.CharField(
        max_length=64, blank=True, help_text="The ERP's id for it; blank: the code."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["legal_entity", "code"], name="account_code_once")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class MappingRule(models.Model):
    """(legal entity, channel, payment method, kind of amount, tax jurisdiction) → account and
    ERP dimensions. Blank channel, method or jurisdiction match any; the most specific rule wins
    (channel before method before jurisdiction)."""

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="+")
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment_method = models.CharField(max_length=100, blank=True, help_text="Blank: any.")
    kind = models.CharField(max_length=32, choices=AmountKind.choices)
    jurisdiction = models.CharField(max_length=200, blank=True, help_text="Blank: any.")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="rules")
    dimensions = models.JSONField(
        default=dict, blank=True, help_text='e.g. {"cost_centre": "CC10", "department": "D1"}'
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["legal_entity", "channel", "payment_method", "kind", "jurisdiction"],
                condition=Q(channel__isnull=False),
                name="mappingrule_once_per_channel",
            ),
            models.UniqueConstraint(
                fields=["legal_entity", "payment_method", "kind", "jurisdiction"],
                condition=Q(channel__isnull=True),
                name="mappingrule_once_any_channel",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.account}"


class PostingPolicy(models.Model):
    """How a legal entity's journals are summarized (channel blank), or a channel's: by channel
    and payment method or not, by day or by month, or one entry per order (low-volume
    wholesale). Without a row: by channel, payment method and day."""

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    by_channel = models.BooleanField(default=True)
    by_payment_method = models.BooleanField(default=True)
    by_day = models.BooleanField(default=True, help_text="Off: one posting date per month.")
    per_order = models.BooleanField(
        default=False, help_text="One entry per order for sales and returns (wholesale)."
    )

    class Meta:
        verbose_name_plural = "posting policies"
        constraints = [
            models.UniqueConstraint(
                fields=["legal_entity", "channel"],
                condition=Q(channel__isnull=False),
                name="postingpolicy_once_per_channel",
            ),
            models.UniqueConstraint(
                fields=["legal_entity"],
                condition=Q(channel__isnull=True),
                name="postingpolicy_once_per_entity",
            ),
        ]


class AccountingPeriod(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"  # no new postings from events (they go to the next open period)
        LOCKED = "locked"  # reversals only

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="+")
    period = models.CharField(max_length=7, help_text="YYYY-MM")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["legal_entity", "period"], name="period_once"),
            models.CheckConstraint(
                condition=Q(period__regex=r"^[0-9]{4}-(0[1-9]|1[0-2])$"), name="period_is_month"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.legal_entity_id}:{self.period} ({self.status})"


class JournalEntry(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        APPROVED = "approved"
        POSTING = "posting"  # handed to the ERP adapter; attempts in the delivery log
        POSTED = "posted"
        FAILED = "failed"

    number = models.CharField(max_length=32, unique=True, null=True, blank=True)
    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="+")
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment_method = models.CharField(max_length=100, blank=True)
    order = models.ForeignKey(
        Order,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Set on per-order entries.",
    )
    posting_date = models.DateField()
    currency = models.CharField(max_length=3)
    period = models.ForeignKey(AccountingPeriod, on_delete=models.PROTECT, related_name="entries")
    # What the summarization groups by; the one draft that accumulates lines for it.
    group_key = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    second_approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    posted_at = models.DateTimeField(null=True, blank=True)
    erp_document_id = models.CharField(max_length=200, blank=True)
    reversal_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "journal entries"
        constraints = [
            models.UniqueConstraint(
                fields=["group_key"],
                condition=Q(status="draft", approved_by__isnull=True),
                name="journalentry_one_open_draft_per_group",
            ),
        ]
        indexes = [models.Index(fields=["period", "status"])]

    def __str__(self) -> str:
        return self.number or f"entry {self.pk}"


class JournalLine(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    debit = Amount(default=0)
    credit = Amount(default=0)
    dimensions = models.JSONField(default=dict, blank=True)
    description = models.CharField(max_length=300, blank=True)
    fx_rate = models.DecimalField(
        max_digits=19, decimal_places=8, null=True, blank=True, help_text="Settlement / order."
    )
    fx_rate_source = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(debit__gte=0, credit__gte=0) & (Q(debit=0) | Q(credit=0)),
                name="journalline_one_side",
            )
        ]

    @property
    def amount(self) -> Decimal:
        return self.debit or self.credit


class SourceType(models.TextChoices):
    ORDER = "order"
    SHIPMENT = "shipment"
    SETTLEMENT_LINE = "settlement_line"
    SETTLEMENT_BATCH = "settlement_batch"
    RETURN = "return"


class JournalLineSource(models.Model):
    """A source record's part of a line; a line's sources add up to its amount."""

    # Checked a statement at a time (retailsync/core/statement_keys.py, migration 0003): a
    # month's two million links, one row at a time, were a third of the journal run.
    line = models.ForeignKey(
        JournalLine, on_delete=models.PROTECT, related_name="sources", db_constraint=False
    )
    source_type = models.CharField(max_length=20, choices=SourceType.choices)
    source_id = models.BigIntegerField()
    amount = Amount()

    class Meta:
        # The way up from a source record (`selectors.lines_fed_by`). Its id first: a bulk
        # insert then compares integers where the type first compared text for every entry,
        # the dearer of this table's indexes to keep (0.3 s a million links).
        indexes = [
            models.Index(fields=["source_id", "source_type"], name="journalsource_by_source")
        ]


class PostedSource(models.Model):
    """A source event that has reached the journals: each is posted once."""

    event_name = models.CharField(max_length=64)
    source_id = models.BigIntegerField(help_text="The shipment, batch, line or return it is about.")
    # Checked a statement at a time (retailsync/core/statement_keys.py, migration 0005): a
    # month's 200,000 shipments claimed at once were as many row checks at commit (0.9 s).
    event = models.ForeignKey(
        DomainEvent,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    posted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event_name", "source_id"], name="postedsource_once")
        ]


class DeliveryLog(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="deliveries")
    attempt = models.PositiveIntegerField()
    adapter = models.CharField(max_length=32)
    request = models.TextField(blank=True)
    response = models.TextField(blank=True)
    document_id = models.CharField(max_length=200, blank=True)
    ok = models.BooleanField(default=False)
    retry = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entry", "attempt"], name="deliverylog_attempt_once")
        ]


class ErpConnection(models.Model):
    """Where a legal entity's ERP is and how to sign in, kept in the admin when the environment
    (ERP_<LEGAL ENTITY>_URL, _TOKEN, …) does not give it. Never in the repository."""

    legal_entity = models.OneToOneField(LegalEntity, on_delete=models.CASCADE, related_name="+")
    base_url = models.URLField(max_length=500)
    values = models.JSONField(
        default=dict, blank=True, help_text="token, client id/secret, company … as the ERP needs."
    )
    timeout = models.FloatField(default=10.0)

    def __str__(self) -> str:
        return f"{self.legal_entity_id}: {self.base_url}"
