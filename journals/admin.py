from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from import_export import fields, resources
from import_export.admin import ImportExportModelAdmin
from import_export.widgets import ForeignKeyWidget

from retailsync.core.admin import AdminRoleOnly, ReadOnlyAdmin
from retailsync.core.errors import DomainError
from retailsync.core.models import Channel, LegalEntity

from .models import (
    Account,
    AccountingPeriod,
    DeliveryLog,
    ErpConnection,
    JournalEntry,
    JournalLine,
    MappingRule,
    PostedSource,
    PostingPolicy,
)
from .services.periods import period_set_status

if TYPE_CHECKING:  # django-import-export ships no types (see inventory/admin.py)
    ModelResource = object
    AccountAdminBase = admin.ModelAdmin[Account]
    MappingRuleAdminBase = admin.ModelAdmin[MappingRule]
    LineInlineBase = admin.TabularInline[JournalLine, JournalEntry]
else:
    ModelResource = resources.ModelResource
    AccountAdminBase = MappingRuleAdminBase = ImportExportModelAdmin
    LineInlineBase = admin.TabularInline


def _entity() -> fields.Field:
    return fields.Field(
        attribute="legal_entity",
        column_name="legal_entity",
        widget=ForeignKeyWidget(LegalEntity, field="code"),
    )


class AccountResource(ModelResource):
    """The chart as CSV or XLSX: legal_entity (code), code, name, type, erp_account_id."""

    legal_entity = _entity()

    class Meta:
        model = Account
        import_id_fields = ["legal_entity", "code"]
        fields = ["legal_entity", "code", "name", "type", "erp_account_id", "is_active"]
        skip_unchanged = True


class AccountWidget(ForeignKeyWidget):  # type: ignore[misc]
    """An account by its code within the row's legal entity (codes repeat across entities)."""

    def __init__(self) -> None:
        super().__init__(Account, field="code")

    def get_queryset(self, value: Any, row: Any, *args: Any, **kwargs: Any) -> QuerySet[Account]:
        return Account.objects.filter(legal_entity__code=row.get("legal_entity", ""))


class MappingRuleResource(ModelResource):
    """Mapping rules: legal_entity, channel (code, blank: any), payment_method, kind,
    jurisdiction, account (code), dimensions (JSON)."""

    legal_entity = _entity()
    channel = fields.Field(
        attribute="channel", column_name="channel", widget=ForeignKeyWidget(Channel, field="code")
    )
    account = fields.Field(attribute="account", column_name="account", widget=AccountWidget())

    class Meta:
        model = MappingRule
        import_id_fields = ["legal_entity", "channel", "payment_method", "kind", "jurisdiction"]
        fields = [
            "legal_entity",
            "channel",
            "payment_method",
            "kind",
            "jurisdiction",
            "account",
            "dimensions",
        ]
        skip_unchanged = True


@admin.register(Account)
class AccountAdmin(AccountAdminBase):
    resource_classes = [AccountResource]
    list_display = ["legal_entity", "code", "name", "type", "erp_account_id", "is_active"]
    list_filter = ["legal_entity", "type", "is_active"]
    search_fields = ["code", "name", "erp_account_id"]


@admin.register(MappingRule)
class MappingRuleAdmin(MappingRuleAdminBase):
    resource_classes = [MappingRuleResource]
    list_display = [
        "legal_entity",
        "kind",
        "channel",
        "payment_method",
        "jurisdiction",
        "account",
        "dimensions",
    ]
    list_filter = ["legal_entity", "kind", "channel"]
    search_fields = ["payment_method", "jurisdiction", "account__code"]
    list_select_related = ["legal_entity", "channel", "account"]


@admin.register(PostingPolicy)
class PostingPolicyAdmin(admin.ModelAdmin[PostingPolicy]):
    list_display = [
        "legal_entity",
        "channel",
        "by_channel",
        "by_payment_method",
        "by_day",
        "per_order",
    ]


def _periods_set(status: str, label: str) -> Any:
    @admin.action(description=label)
    def act(model_admin: Any, request: HttpRequest, queryset: QuerySet[AccountingPeriod]) -> None:
        for row in queryset.select_related("legal_entity").order_by("pk"):
            try:
                period_set_status(
                    legal_entity=row.legal_entity.code,
                    period=row.period,
                    status=status,
                    user=request.user,
                    now=timezone.now(),
                )
            except DomainError as exc:
                model_admin.message_user(request, str(exc), messages.ERROR)
            else:
                model_admin.message_user(request, f"{row.legal_entity.code} {row.period}: {status}")

    act.__name__ = f"periods_{status}"
    return act


@admin.register(AccountingPeriod)
class AccountingPeriodAdmin(ReadOnlyAdmin):
    """Periods change by their actions only (close, reopen, lock), each checked and recorded."""

    list_display = ["legal_entity", "period", "status", "changed_by", "changed_at"]
    list_filter = ["legal_entity", "status"]
    actions = [
        _periods_set(AccountingPeriod.Status.CLOSED, "Close the selected periods"),
        _periods_set(AccountingPeriod.Status.OPEN, "Reopen the selected periods"),
        _periods_set(AccountingPeriod.Status.LOCKED, "Lock the selected periods"),
    ]


class LineInline(LineInlineBase):
    model = JournalLine
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "account",
        "debit",
        "credit",
        "dimensions",
        "description",
        "fx_rate",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeliveryInline(admin.TabularInline[DeliveryLog, JournalEntry]):
    model = DeliveryLog
    extra = 0
    can_delete = False
    fields = readonly_fields = ("attempt", "adapter", "ok", "retry", "document_id", "error", "at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    """Entries change through their lifecycle (the API), never by hand."""

    list_display = [
        "number",
        "legal_entity",
        "channel",
        "payment_method",
        "posting_date",
        "currency",
        "status",
        "erp_document_id",
    ]
    list_filter = ["status", "legal_entity", "currency", "period__period"]
    search_fields = ["number", "erp_document_id"]
    list_select_related = ["legal_entity", "channel"]
    inlines = [LineInline, DeliveryInline]


@admin.register(PostedSource)
class PostedSourceAdmin(ReadOnlyAdmin):
    list_display = ["event_name", "source_id", "event", "posted_at"]
    list_filter = ["event_name"]
    search_fields = ["source_id"]


@admin.register(DeliveryLog)
class DeliveryLogAdmin(ReadOnlyAdmin):
    list_display = ["entry", "attempt", "adapter", "ok", "retry", "document_id", "at"]
    list_filter = ["ok", "adapter"]


@admin.register(ErpConnection)
class ErpConnectionAdmin(AdminRoleOnly):
    """Credentials when the environment gives none (ERP_<LEGAL ENTITY>_URL …): the admin role
    changes them."""

    list_display = ["legal_entity", "base_url", "timeout"]
