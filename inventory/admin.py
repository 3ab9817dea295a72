from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import Model
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest
from import_export import fields, resources
from import_export.admin import ImportExportModelAdmin
from import_export.widgets import ForeignKeyWidget

from retailsync.core.admin import ReadOnlyAdmin
from retailsync.core.models import LegalEntity
from retailsync.core.webhooks import webhook_url_problems

from .models import (
    BundleComponent,
    ChannelAllocation,
    ChannelItemRule,
    ChannelLocation,
    ChannelLocationMapping,
    Item,
    Location,
    Position,
    Reservation,
    StockEvent,
    StockMovement,
    WebhookDelivery,
)
from .services import webhook_secret_issue

if TYPE_CHECKING:  # django-import-export ships no types, and Django's admin classes are
    # generic to the type checker only: to it the import-export classes are the plain ones.
    ModelResource = object
    ItemAdminBase = admin.ModelAdmin[Item]
    LocationAdminBase = admin.ModelAdmin[Location]
    ComponentInlineBase = admin.TabularInline[BundleComponent, Item]
    ChannelLocationInlineBase = admin.TabularInline[ChannelLocation, ChannelAllocation]
    ChannelItemRuleInlineBase = admin.TabularInline[ChannelItemRule, ChannelAllocation]
    ChannelAllocationAdminBase = admin.ModelAdmin[ChannelAllocation]
    ChannelLocationMappingAdminBase = admin.ModelAdmin[ChannelLocationMapping]
else:
    ModelResource = resources.ModelResource
    ItemAdminBase = LocationAdminBase = ImportExportModelAdmin
    ComponentInlineBase = ChannelLocationInlineBase = ChannelItemRuleInlineBase = (
        admin.TabularInline
    )
    ChannelAllocationAdminBase = ChannelLocationMappingAdminBase = admin.ModelAdmin


class ItemResource(ModelResource):
    """The SKU master as CSV or XLSX: sku, description, unit_cost, cost_currency."""

    class Meta:
        model = Item
        import_id_fields = ["sku"]
        fields = ["sku", "description", "unit_cost", "cost_currency", "is_active"]
        skip_unchanged = True
        report_skipped = False


class LocationResource(ModelResource):
    legal_entity = fields.Field(
        attribute="legal_entity",
        column_name="legal_entity",
        widget=ForeignKeyWidget(LegalEntity, field="code"),
    )

    class Meta:
        model = Location
        import_id_fields = ["code"]
        fields = ["code", "kind", "name", "legal_entity", "is_active"]
        skip_unchanged = True


class ComponentInline(ComponentInlineBase):
    model = BundleComponent
    fk_name = "bundle"
    extra = 0
    autocomplete_fields = ["component"]


@admin.register(Item)
class ItemAdmin(ItemAdminBase):
    resource_classes = [ItemResource]
    list_display = ["sku", "description", "unit_cost", "cost_currency", "is_active"]
    search_fields = ["sku", "description"]
    list_filter = ["is_active"]
    inlines = [ComponentInline]


@admin.register(Location)
class LocationAdmin(LocationAdminBase):
    resource_classes = [LocationResource]
    list_display = ["code", "kind", "name", "legal_entity", "is_active"]
    search_fields = ["code", "name"]
    list_filter = ["kind", "is_active"]


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    """Positions change only through stock events and order events, so history explains them."""

    list_display = [
        "item",
        "location",
        "on_hand",
        "reserved",
        "in_transit",
        "damaged",
        "quality_hold",
        "available",
        "updated_at",
    ]
    list_filter = ["location"]
    search_fields = ["item__sku"]
    list_select_related = ["item", "location"]

    @admin.display(description="available")
    def available(self, obj: Position) -> int:
        return obj.available


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = [
        "recorded_at",
        "item",
        "location",
        "reason",
        "on_hand",
        "reserved",
        "in_transit",
        "damaged",
        "quality_hold",
        "reference_type",
        "reference_id",
    ]
    list_filter = ["reason", "location"]
    search_fields = ["item__sku", "=correlation_id", "=reference_id", "=source_event_id"]
    list_select_related = ["item", "location"]


@admin.register(StockEvent)
class StockEventAdmin(ReadOnlyAdmin):
    list_display = [
        "received_at",
        "source",
        "event_id",
        "type",
        "item",
        "location",
        "quantity",
        "occurred_at",
    ]
    list_filter = ["type", "source"]
    search_fields = ["=event_id", "item__sku", "=correlation_id"]


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ["order", "item", "location", "quantity", "requested", "status", "expires_at"]
    list_filter = ["status", "location"]
    search_fields = ["item__sku", "=order__external_id"]


class ChannelLocationInline(ChannelLocationInlineBase):
    model = ChannelLocation
    extra = 0


class ChannelItemRuleInline(ChannelItemRuleInlineBase):
    model = ChannelItemRule
    extra = 0
    autocomplete_fields = ["item"]


@admin.register(ChannelAllocation)
class ChannelAllocationAdmin(ChannelAllocationAdminBase):
    list_display = [
        "channel",
        "safety_stock",
        "share_percent",
        "cap",
        "allow_split",
        "reservation_ttl_minutes",
        "webhook_url",
    ]
    inlines = [ChannelLocationInline, ChannelItemRuleInline]

    def save_model(
        self,
        request: HttpRequest,
        obj: ChannelAllocation,
        form: ModelForm[ChannelAllocation],
        change: bool,
    ) -> None:
        refused = webhook_url_problems(obj.webhook_url) if obj.webhook_url else []
        if refused:
            obj.webhook_url = ""
            self.message_user(
                request, f"Webhook URL not saved: {'; '.join(refused)}", messages.ERROR
            )
        super().save_model(request, obj, form, change)
        if obj.webhook_url and not obj.webhook_secret:
            secret = webhook_secret_issue(allocation=obj)
            self.message_user(
                request,
                f"Pushes are signed with {secret} (X-Retailsync-Signature). "
                "It is shown this once: give it to the channel now.",
                messages.WARNING,
            )

    def save_related(
        self,
        request: HttpRequest,
        form: ModelForm[ChannelAllocation],
        formsets: list[BaseInlineFormSet[Model, ChannelAllocation, ModelForm[Model]]],
        change: bool,
    ) -> None:
        super().save_related(request, form, formsets, change)
        from .availability import availability_refresh_all
        from .backorders import backorders_wake

        availability_refresh_all()
        backorders_wake()  # the channel's backorders may find stock where it now reserves


@admin.register(ChannelLocationMapping)
class ChannelLocationMappingAdmin(ChannelLocationMappingAdminBase):
    """A channel's own location ids (Shopify's `location_id`) to ours: a refund restocked at
    an unmapped one waits in the exception queue until it is mapped here."""

    list_display = ["channel", "external_id", "location"]
    list_filter = ["channel"]
    search_fields = ["external_id", "channel__code", "location__code"]
    list_select_related = ["channel", "location"]

    def save_model(
        self,
        request: HttpRequest,
        obj: ChannelLocationMapping,
        form: ModelForm[ChannelLocationMapping],
        change: bool,
    ) -> None:
        from .mappings import channel_location_map

        if change:
            super().save_model(request, obj, form, change)
        mapping, settled = channel_location_map(
            channel=obj.channel,
            external_id=obj.external_id,
            location=obj.location,
            actor=request.user if isinstance(request.user, User) else None,
        )
        obj.pk = mapping.pk
        if settled:
            self.message_user(
                request, f"Units waiting for this location went back to stock ({settled} refunds)."
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "channel",
        "url",
        "status",
        "attempts",
        "response_code",
        "delivered_at",
    ]
    list_filter = ["status", "channel"]
