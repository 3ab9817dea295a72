from django.contrib import admin
from import_export.admin import ImportExportModelAdmin

from .models import (
    ExpectedSettlement,
    FeeSchedule,
    MatchRun,
    ProviderSettings,
    SettlementBatch,
    SettlementLine,
    Upload,
)


@admin.register(ProviderSettings)
class ProviderSettingsAdmin(admin.ModelAdmin[ProviderSettings]):
    list_display = [
        "provider",
        "channel",
        "amount_tolerance",
        "fee_tolerance",
        "date_window_days",
        "payout_lag_days",
        "deposit_grace_days",
    ]


@admin.register(FeeSchedule)
class FeeScheduleAdmin(ImportExportModelAdmin[FeeSchedule]):  # type: ignore[misc]
    list_display = ["provider", "payment_method", "category", "currency", "percent", "fixed"]
    list_filter = ["provider"]


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    """What files and runs made: read here, changed only through matching and its actions."""

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Upload)
class UploadAdmin(ReadOnly):
    list_display = ["name", "provider", "status", "progress", "rows", "created_at"]
    list_filter = ["provider", "status"]


@admin.register(SettlementBatch)
class SettlementBatchAdmin(ReadOnly):
    list_display = [
        "key",
        "provider",
        "currency",
        "payout_amount",
        "net",
        "variance",
        "deposit_status",
    ]
    list_filter = ["provider", "deposit_status"]
    search_fields = ["key"]


@admin.register(SettlementLine)
class SettlementLineAdmin(ReadOnly):
    list_display = ["line_key", "provider", "kind", "net", "currency", "outcome", "reason"]
    list_filter = ["provider", "outcome", "kind"]
    search_fields = ["line_key", "order_ref", "payment_ref"]
    raw_id_fields = ["batch", "order", "expected"]


@admin.register(ExpectedSettlement)
class ExpectedSettlementAdmin(ReadOnly):
    list_display = [
        "order",
        "kind",
        "provider",
        "gross",
        "fee",
        "currency",
        "expected_on",
        "status",
    ]
    list_filter = ["provider", "status", "kind"]
    raw_id_fields = ["order"]


@admin.register(MatchRun)
class MatchRunAdmin(ReadOnly):
    list_display = ["batch", "started_at", "finished_at", "undone_at"]
    raw_id_fields = ["batch"]
