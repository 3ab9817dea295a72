from typing import TYPE_CHECKING

from django.contrib import admin

from retailsync.core.admin import ReadOnlyAdmin

from .models import (
    RefundPayment,
    Return,
    ReturnDesk,
    ReturnLine,
    ReturnPolicy,
    ReturnReceipt,
    ReturnTransition,
)

if TYPE_CHECKING:  # Django's admin classes are generic to the type checker only
    DeskAdmin = admin.ModelAdmin[ReturnDesk]
    PolicyAdmin = admin.ModelAdmin[ReturnPolicy]
    LineInline = admin.TabularInline[ReturnLine, Return]
else:
    DeskAdmin = PolicyAdmin = admin.ModelAdmin
    LineInline = admin.TabularInline


@admin.register(ReturnDesk)
class ReturnDeskAdmin(DeskAdmin):
    """Where each clerk receives returns: the receive form starts there."""

    list_display = ["user", "location"]
    autocomplete_fields = ["location"]
    raw_id_fields = ["user"]


@admin.register(ReturnPolicy)
class ReturnPolicyAdmin(PolicyAdmin):
    list_display = ["channel", "window_days", "refund_shipping"]


class ReturnLineInline(LineInline):
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


@admin.register(ReturnReceipt)
class ReturnReceiptAdmin(ReadOnlyAdmin):
    """Each parcel of a return line, where it arrived and how much of it is decided."""

    list_display = ["line", "location", "quantity", "decided", "at"]
    list_select_related = ["line", "location"]
    list_filter = ["location"]


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
