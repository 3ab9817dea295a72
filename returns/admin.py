from django.contrib import admin

from retailsync.admin import ReadOnlyAdmin

from .models import RefundPayment, Return, ReturnLine, ReturnPolicy, ReturnTransition


@admin.register(ReturnPolicy)
class ReturnPolicyAdmin(admin.ModelAdmin):
    list_display = ["channel", "window_days", "refund_shipping"]


class ReturnLineInline(admin.TabularInline):
    model = ReturnLine
    extra = 0
    can_delete = False
    readonly_fields = [
        "order_line",
        "quantity",
        "reason",
        "received",
        "restocked",
        "damaged",
        "held",
        "scrapped",
        "missing",
        "amount",
        "tax",
        "restocking_fee",
    ]
    fields = readonly_fields  # type: ignore[assignment]


@admin.register(Return)
class ReturnAdmin(ReadOnlyAdmin):
    """Returns move through their lifecycle (pages and API), never by editing."""

    list_display = ["pk", "order", "channel", "status", "refund_amount", "currency", "created_at"]
    list_filter = ["status", "channel"]
    search_fields = ["=order__external_id", "=external_id", "=correlation_id"]
    inlines = [ReturnLineInline]


@admin.register(RefundPayment)
class RefundPaymentAdmin(ReadOnlyAdmin):
    list_display = ["ret", "method", "gateway", "amount", "currency", "psp_refund_id", "status"]


@admin.register(ReturnTransition)
class ReturnTransitionAdmin(ReadOnlyAdmin):
    list_display = ["ret", "from_status", "to_status", "actor_name", "at"]
