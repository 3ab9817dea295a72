"""What the journal endpoints answer (API.md: entries with `currency`, `status`, `lines` with
`account`, `debit`, `credit`, dimensions and `sources` `{"type", "id", "amount"}`) and take."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from retailsync.core.money import quantize
from retailsync.core.serializers import StrictSerializer

from .models import AccountingPeriod, DeliveryLog, JournalEntry, JournalLine, JournalLineSource
from .services.periods import PERIOD


def money(value: Decimal | None, currency: str) -> str | None:
    return None if value is None else f"{quantize(value, currency):f}"


class JournalSourceOutput(serializers.Serializer[JournalLineSource]):
    type = serializers.CharField(source="source_type")
    id = serializers.IntegerField(source="source_id")
    amount = serializers.SerializerMethodField()

    @extend_schema_field(str)
    def get_amount(self, source: JournalLineSource) -> str | None:
        return money(source.amount, self.context.get("currency", "USD"))


class JournalLineOutput(serializers.Serializer[JournalLine]):
    id = serializers.IntegerField()
    account = serializers.CharField(source="account.code")
    account_name = serializers.CharField(source="account.name")
    erp_account = serializers.CharField(source="account.erp_account_id")
    debit = serializers.SerializerMethodField()
    credit = serializers.SerializerMethodField()
    dimensions = serializers.DictField(child=serializers.CharField())
    description = serializers.CharField()
    fx_rate = serializers.DecimalField(max_digits=19, decimal_places=8, allow_null=True)
    fx_rate_source = serializers.CharField()
    sources_count = serializers.IntegerField()
    sources = serializers.SerializerMethodField()

    @extend_schema_field(str)
    def get_debit(self, line: JournalLine) -> str | None:
        return money(line.debit, self.context["currency"])

    @extend_schema_field(str)
    def get_credit(self, line: JournalLine) -> str | None:
        return money(line.credit, self.context["currency"])

    @extend_schema_field(JournalSourceOutput(many=True))
    def get_sources(self, line: JournalLine) -> list[dict[str, Any]]:
        shown = getattr(line, "shown_sources", [])
        return list(JournalSourceOutput(cast(Any, shown), many=True, context=self.context).data)


class JournalDeliveryOutput(serializers.ModelSerializer[DeliveryLog]):
    class Meta:
        model = DeliveryLog
        fields = ["attempt", "adapter", "ok", "retry", "document_id", "error", "at"]


class JournalEntryOutput(serializers.ModelSerializer[JournalEntry]):
    legal_entity = serializers.CharField(source="legal_entity.code")
    channel = serializers.SerializerMethodField()
    period = serializers.CharField(source="period.period")
    approved_by = serializers.SerializerMethodField()
    second_approver = serializers.SerializerMethodField()
    reversal_of = serializers.SerializerMethodField()
    debit = serializers.SerializerMethodField()
    credit = serializers.SerializerMethodField()
    lines = serializers.SerializerMethodField()

    class Meta:
        model = JournalEntry
        fields = [
            "id",
            "number",
            "legal_entity",
            "channel",
            "payment_method",
            "order",
            "posting_date",
            "period",
            "currency",
            "status",
            "debit",
            "credit",
            "approved_by",
            "second_approver",
            "approved_at",
            "posted_at",
            "erp_document_id",
            "reversal_of",
            "note",
            "lines",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_channel(self, entry: JournalEntry) -> str | None:
        return entry.channel.code if entry.channel else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_approved_by(self, entry: JournalEntry) -> str | None:
        return entry.approved_by.get_username() if entry.approved_by else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_second_approver(self, entry: JournalEntry) -> str | None:
        return entry.second_approver.get_username() if entry.second_approver else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_reversal_of(self, entry: JournalEntry) -> str | None:
        return entry.reversal_of.number if entry.reversal_of else None

    @extend_schema_field(str)
    def get_debit(self, entry: JournalEntry) -> str | None:
        return money(getattr(entry, "total_debit", None) or Decimal(0), entry.currency)

    @extend_schema_field(str)
    def get_credit(self, entry: JournalEntry) -> str | None:
        return money(getattr(entry, "total_credit", None) or Decimal(0), entry.currency)

    @extend_schema_field(JournalLineOutput(many=True))
    def get_lines(self, entry: JournalEntry) -> list[dict[str, Any]]:
        lines = getattr(entry, "shown_lines", [])
        context = {"currency": entry.currency}
        return list(JournalLineOutput(cast(Any, lines), many=True, context=context).data)


class JournalEntryDetailOutput(JournalEntryOutput):
    deliveries = JournalDeliveryOutput(many=True, read_only=True)

    class Meta(JournalEntryOutput.Meta):
        fields = [*JournalEntryOutput.Meta.fields, "deliveries"]


class JournalFedLineOutput(serializers.Serializer[JournalLineSource]):
    """A journal line a source record fed, and its part in it."""

    entry = serializers.IntegerField(source="line.entry_id")
    number = serializers.CharField(source="line.entry.number")
    status = serializers.CharField(source="line.entry.status")
    posting_date = serializers.DateField(source="line.entry.posting_date")
    currency = serializers.CharField(source="line.entry.currency")
    line = serializers.IntegerField(source="line_id")
    account = serializers.CharField(source="line.account.code")
    description = serializers.CharField(source="line.description")
    amount = serializers.SerializerMethodField()

    @extend_schema_field(str)
    def get_amount(self, source: JournalLineSource) -> str | None:
        return money(source.amount, source.line.entry.currency)


class JournalPeriodOutput(serializers.ModelSerializer[AccountingPeriod]):
    legal_entity = serializers.CharField(source="legal_entity.code")
    changed_by = serializers.SerializerMethodField()

    class Meta:
        model = AccountingPeriod
        fields = ["legal_entity", "period", "status", "changed_by", "changed_at"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_changed_by(self, period: AccountingPeriod) -> str | None:
        return period.changed_by.get_username() if period.changed_by else None


def _period(value: str) -> None:
    if not PERIOD.match(value):
        raise serializers.ValidationError("must be a month as YYYY-MM")


class JournalRunInput(StrictSerializer):
    period = serializers.CharField(max_length=7, validators=[_period])


class JournalRunOutput(serializers.Serializer[dict[str, int]]):
    entries = serializers.IntegerField()


class JournalNoInput(StrictSerializer):
    """No fields: anything sent is refused by name."""


class JournalReverseInput(StrictSerializer):
    posting_date = serializers.DateField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
