from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import (
    ApiToken,
    AuditRecord,
    Channel,
    DomainEvent,
    EventReceipt,
    ExceptionItem,
    InboundMessage,
    LegalEntity,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that are history: looked at, never edited."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LegalEntity)
class LegalEntityAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "currency", "erp"]
    search_fields = ["code", "name"]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["code", "source", "currency", "legal_entity", "is_active", "created_at"]
    list_filter = ["source", "is_active", "legal_entity"]
    search_fields = ["code", "name"]

    def save_model(self, request: HttpRequest, obj: Channel, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        from .auth import tokens_forget

        tokens_forget()  # other processes catch up within TOKEN_CACHE_SECONDS


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ["prefix", "channel", "user", "created_at", "revoked_at"]


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "channel",
        "kind",
        "topic",
        "message_id",
        "status",
        "received_at",
        "correlation_id",
    ]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["=correlation_id", "=message_id", "=pk"]
    date_hierarchy = "received_at"
    readonly_fields = ["text"]
    exclude = ["body"]
    actions = ["replay"]

    @admin.action(description="Replay the selected messages through the pipeline")
    def replay(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        from .replay import messages_replay

        results = messages_replay(queryset.order_by("pk"))
        self.message_user(
            request,
            f"Replayed {len(results)} message(s): "
            + ", ".join(f"#{r.message_id} {r.status}" for r in results[:20]),
            messages.INFO,
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DomainEvent)
class DomainEventAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "name",
        "aggregate_type",
        "aggregate_id",
        "created_at",
        "dispatched_at",
        "correlation_id",
    ]
    list_filter = ["name"]
    search_fields = ["=correlation_id", "=aggregate_id"]


@admin.register(EventReceipt)
class EventReceiptAdmin(ReadOnlyAdmin):
    list_display = ["event", "subscriber", "handled_at", "correlation_id"]


@admin.register(ExceptionItem)
class ExceptionItemAdmin(admin.ModelAdmin):
    list_display = ["pk", "kind", "reason", "object_label", "status", "occurrences", "created_at"]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["reason", "=correlation_id", "object_label"]
    readonly_fields = [f.name for f in ExceptionItem._meta.fields]


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor_name", "via", "action", "result", "outcome", "status_code"]
    list_filter = ["result", "via", "method"]
    search_fields = ["actor_name", "action", "outcome", "path", "=correlation_id"]
    date_hierarchy = "at"
