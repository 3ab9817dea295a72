"""Settlements: what providers and banks say they paid, and what we expected them to.

- `Upload`: one file as it came in (kept in the default storage), followed to `done`/`failed`.
- `SettlementBatch`: a payout (provider files) or a statement (bank files), keyed by provider
  and the provider's own id; the same file again finds the same batches.
- `SettlementLine`: one record of a batch, unique per provider by its `line_key` (overlapping
  files add nothing twice), with its match outcome. Amounts are signed from the merchant's side.
- `ExpectedSettlement`: what an order's captured payment or a refund should bring (or take),
  when, and less which fee; matching confirms it.
- `MatchRun`: one run of the rules over a batch, with its counts; undone per batch.
- `ProviderSettings`, `FeeSchedule`: what finance configures once per provider.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from orders.models import Amount, OptionalAmount, Order
from retailsync.core.models import Channel, LegalEntity

from .parsers.base import LineKind

PROVIDER_FORMATS = ("stripe", "amazon", "paypal", "adyen", "generic")
BANK_FORMATS = ("camt053", "bai2", "mt940", "bank_csv")


def channel_refused(provider: str, channel: str) -> str:
    """Why an upload of `provider` cannot name `channel` (the upload page, the API and
    import_settlement alike), or "": a bank statement pays no channel's orders (API.md)."""
    if channel and provider in BANK_FORMATS:
        return "A bank statement belongs to no channel: leave it blank."
    return ""


class Provider(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    AMAZON = "amazon", "Amazon"
    PAYPAL = "paypal", "PayPal"
    ADYEN = "adyen", "Adyen"
    GENERIC = "generic", "Generic CSV"
    CAMT053 = "camt053", "Bank: camt.053"
    BAI2 = "bai2", "Bank: BAI2"
    MT940 = "mt940", "Bank: MT940"
    BANK_CSV = "bank_csv", "Bank: CSV"


class Outcome(models.TextChoices):
    UNMATCHED = "unmatched"
    MATCHED = "matched"
    VARIANCE = "variance", "matched with variance"
    DUPLICATE = "duplicate"
    WRITTEN_OFF = "written_off", "written off"


RULES = ("payment_ref", "order_ref", "refund", "chargeback", "amount_date")


def default_rules() -> list[str]:
    return list(RULES)


class ProviderSettings(models.Model):
    """Per provider: tolerances, the rule order, payout timing, and the generic CSV's shape."""

    provider = models.CharField(max_length=16, choices=Provider.choices, unique=True)
    channel = models.ForeignKey(
        Channel,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text="The channel this provider's files are for when an upload names none.",
    )
    amount_tolerance = models.DecimalField(max_digits=19, decimal_places=4, default=Decimal("0.01"))
    fee_tolerance = models.DecimalField(max_digits=19, decimal_places=4, default=Decimal("0.05"))
    date_window_days = models.PositiveSmallIntegerField(
        default=7, help_text="Amount-and-date matching looks this far either side."
    )
    payout_lag_days = models.PositiveSmallIntegerField(
        default=2, help_text="Days from capture to the provider's payout."
    )
    deposit_grace_days = models.PositiveSmallIntegerField(
        default=3, help_text="Days after a payout's deposit date before it is missing."
    )
    rule_order = models.JSONField(default=default_rules, blank=True)
    column_mapping = models.JSONField(
        default=dict, blank=True, help_text="Generic CSV: our field → the file's column header."
    )
    date_format = models.CharField(max_length=32, default="%Y-%m-%d")
    decimal_separator = models.CharField(max_length=1, default=".")
    sign_convention = models.CharField(
        max_length=10,
        default="signed",
        choices=[("signed", "signed"), ("negate", "negate"), ("direction", "direction column")],
    )
    delimiter = models.CharField(max_length=1, default=",")
    currency = models.CharField(max_length=3, blank=True)

    class Meta:
        verbose_name_plural = "provider settings"

    def __str__(self) -> str:
        return self.get_provider_display()


class FeeSchedule(models.Model):
    """The fee a provider charges: `percent` of the gross plus `fixed`, per payment method and
    card brand or marketplace category where the provider differs (blank: any)."""

    provider = models.CharField(max_length=16, choices=Provider.choices)
    payment_method = models.CharField(max_length=40, blank=True)
    category = models.CharField(max_length=60, blank=True, help_text="Card brand or category.")
    currency = models.CharField(max_length=3, blank=True)
    percent = models.DecimalField(max_digits=7, decimal_places=4, default=Decimal("0"))
    fixed = models.DecimalField(max_digits=19, decimal_places=4, default=Decimal("0"))
    payout_lag_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Overrides the provider's (BNPL pays later)."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "payment_method", "category", "currency"],
                name="feeschedule_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.payment_method or '*'}: {self.percent}% + {self.fixed}"


class Upload(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        PARSING = "parsing"
        MATCHING = "matching"
        DONE = "done"
        FAILED = "failed"

    provider = models.CharField(max_length=16, choices=Provider.choices)
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.PROTECT)
    file = models.FileField(upload_to="settlements/%Y/%m/")
    name = models.CharField(max_length=255)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent of the file read.")
    rows = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    batch_ids = models.JSONField(default=list, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    correlation_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider})"


class SettlementBatch(models.Model):
    class DepositStatus(models.TextChoices):
        PENDING = "pending"
        MATCHED = "matched"
        MISSING = "missing"
        NONE = "n/a", "not a payout"

    provider = models.CharField(max_length=16, choices=Provider.choices)
    key = models.CharField(max_length=120, help_text="Payout, settlement or statement id.")
    is_statement = models.BooleanField(default=False)
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.PROTECT)
    legal_entity = models.ForeignKey(LegalEntity, null=True, blank=True, on_delete=models.PROTECT)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    deposit_date = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    payout_amount = OptionalAmount()
    opening_balance = OptionalAmount()
    closing_balance = OptionalAmount()
    account = models.CharField(max_length=64, blank=True)
    file_hash = models.CharField(max_length=64)
    upload = models.ForeignKey(Upload, on_delete=models.PROTECT, related_name="batches")
    created_at = models.DateTimeField(default=timezone.now)
    # Figures kept as of the last load or match (API.md signs).
    gross = Amount(default=0)
    fees = Amount(default=0)
    refunds = Amount(default=0)
    chargebacks = Amount(default=0)
    net = Amount(default=0)
    variance = Amount(default=0, help_text="payout_amount − net")
    lines_count = models.PositiveIntegerField(default=0)
    matched = models.PositiveIntegerField(default=0)
    unmatched = models.PositiveIntegerField(default=0)
    matched_at = models.DateTimeField(null=True, blank=True)
    deposit_status = models.CharField(
        max_length=8, choices=DepositStatus.choices, default=DepositStatus.PENDING
    )
    deposited_on = models.DateField(null=True, blank=True)
    deposit_line = models.OneToOneField(
        "SettlementLine",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deposit_of",
        help_text="The bank statement line the payout arrived as.",
    )

    class Meta:
        verbose_name_plural = "settlement batches"
        constraints = [
            models.UniqueConstraint(fields=["provider", "key"], name="batch_provider_key")
        ]
        indexes = [models.Index(fields=["deposit_status", "deposit_date"])]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.key}"


class ExpectedSettlement(models.Model):
    class Kind(models.TextChoices):
        CHARGE = "charge"
        REFUND = "refund"

    class Status(models.TextChoices):
        OPEN = "open", "expected"
        SETTLED = "settled"
        VARIANCE = "variance"

    # Indexed as (order, kind) below. No other index than those a query needs: matching sets
    # the status of 200,000 expectations at once, and each index is written again per row
    # (eight of them, two of them LIKE's, took 3.9 s of a million-line match).
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    source = models.CharField(max_length=64, help_text="What it came from: the event, once.")
    provider = models.CharField(max_length=16, blank=True)
    payment_method = models.CharField(max_length=40, blank=True)
    payment_ref = models.CharField(max_length=200, blank=True)
    currency = models.CharField(max_length=3)
    gross = Amount(help_text="Signed: a charge in is positive, a refund out negative.")
    fee = Amount(default=0, help_text="Expected from the fee schedule (negative).")
    expected_on = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    settled_gross = Amount(default=0)
    settled_fee = Amount(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source"], name="expected_source_once")]
        indexes = [
            models.Index(fields=["order", "kind"]),
            models.Index(fields=["status", "expected_on"]),
        ]

    @property
    def net(self) -> Decimal:
        return self.gross + self.fee


class SettlementLine(models.Model):
    # Indexed by (batch, outcome) below: a second index on the batch alone would only slow the
    # load of a million-line file. The batch, order and expectation are foreign keys checked a
    # statement at a time (retailsync/core/statement_keys.py, migration 0003): a million-line
    # file made three million checks of one row each at commit.
    batch = models.ForeignKey(
        SettlementBatch,
        on_delete=models.CASCADE,
        related_name="lines",
        db_index=False,
        db_constraint=False,
    )
    provider = models.CharField(max_length=16, choices=Provider.choices)
    line_key = models.CharField(max_length=200)
    row = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=[(k.value, k.value) for k in LineKind])
    currency = models.CharField(max_length=3)
    gross = Amount()
    fee = Amount()
    net = Amount()
    posted_at = models.DateTimeField(null=True, blank=True)
    order_ref = models.CharField(max_length=120, blank=True)
    payment_ref = models.CharField(max_length=200, blank=True)
    related_ref = models.CharField(max_length=200, blank=True)
    payment_method = models.CharField(max_length=40, blank=True)
    description = models.CharField(max_length=500, blank=True)
    raw = models.TextField(blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.UNMATCHED)
    rule = models.CharField(max_length=20, blank=True)
    reason = models.CharField(max_length=32, blank=True, help_text="Why it is not matched.")
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, db_constraint=False
    )
    expected = models.ForeignKey(
        ExpectedSettlement,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lines",
        db_index=False,  # read from the line, never looked up by
        db_constraint=False,
    )
    variance = OptionalAmount()
    manual = models.BooleanField(default=False, help_text="Set by a person; re-runs keep it.")
    note = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "line_key"], name="line_provider_key")
        ]
        indexes = [
            models.Index(fields=["batch", "outcome"]),
            # The few lines waiting for the rest of a split payment, found by order when a new
            # file may bring it (matching.batches_match): without it, a scan of every line.
            models.Index(
                fields=["order"],
                condition=models.Q(reason="split_incomplete", manual=False),
                name="line_split_waiting",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.line_key}"


class MatchRun(models.Model):
    batch = models.ForeignKey(SettlementBatch, on_delete=models.CASCADE, related_name="runs")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-started_at"]
