from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from .credentials import Actor, channel_save, channel_tokens_rotate, tokens_revoke
from .models import (
    ApiToken,
    AuditRecord,
    Channel,
    DomainEvent,
    EventFailure,
    EventReceipt,
    ExceptionItem,
    InboundMessage,
    LegalEntity,
)
from .roles import ROLES, user_roles
from .templatetags.display import differences


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Records that are history: looked at, never edited."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _is_admin(request: HttpRequest) -> bool:
    return "admin" in user_roles(request.user)


class AdminRoleOnly(admin.ModelAdmin[Any]):
    """Configuration and credentials (roles.ADMIN_ONLY_MODELS): the admin role changes them,
    other roles may only look, and nobody deletes them: deactivate or revoke instead."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _is_admin(request) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_admin(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LegalEntity)
class LegalEntityAdmin(AdminRoleOnly):
    list_display = ["code", "name", "currency", "erp"]
    search_fields = ["code", "name"]


class ChannelForm(forms.ModelForm[Channel]):
    """The webhook secret is write-only, like a token: the form never carries the stored value."""

    new_webhook_secret = forms.CharField(
        required=False,
        strip=False,
        max_length=Channel._meta.get_field("webhook_secret").max_length,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        label="Set a new webhook secret",
        help_text="Leave blank to keep the current secret. The stored secret is never shown.",
    )

    class Meta:
        model = Channel
        fields = ["code", "name", "source", "currency", "legal_entity", "is_active", "created_at"]


CHANNEL_FIELDS = [*ChannelForm.Meta.fields, "webhook_secret_state", "new_webhook_secret"]


def _token_page(
    request: HttpRequest, title: str, issued: list[tuple[Channel, str, Any]]
) -> TemplateResponse:
    """The new tokens, on this one page and nowhere else: not in a message cookie or session."""
    return TemplateResponse(
        request,
        "admin/core/tokens_issued.html",
        {**admin.site.each_context(request), "title": title, "issued": issued},
    )


@admin.register(Channel)
class ChannelAdmin(AdminRoleOnly):
    form = ChannelForm
    list_display = ["code", "source", "currency", "legal_entity", "is_active", "created_at"]
    list_filter = ["source", "is_active", "legal_entity"]
    search_fields = ["code", "name"]
    readonly_fields = ["webhook_secret_state"]
    actions = ["rotate_token"]

    @admin.display(description="Webhook secret")
    def webhook_secret_state(self, obj: Channel) -> str:
        return "set (never shown)" if obj.webhook_secret else "not set"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        # Looking without the right to change: nothing to set.
        if self.has_change_permission(request, obj):
            return CHANNEL_FIELDS
        return [f for f in CHANNEL_FIELDS if f != "new_webhook_secret"]

    def save_model(self, request: HttpRequest, obj: Channel, form: Any, change: bool) -> None:
        token = channel_save(
            channel=obj,
            new_secret=form.cleaned_data.get("new_webhook_secret", ""),
            actor=Actor.of_request(request),
            now=timezone.now(),
        )
        request.issued_token = token  # type: ignore[attr-defined]  # for response_add

    def response_add(
        self, request: HttpRequest, obj: Channel, post_url_continue: Any = None
    ) -> HttpResponse:
        token = getattr(request, "issued_token", None)
        if token is None:
            return super().response_add(request, obj, post_url_continue)
        return _token_page(request, f"Channel {obj.code} created", [(obj, token, None)])

    def has_rotate_permission(self, request: HttpRequest) -> bool:
        return self.has_change_permission(request)

    @admin.action(description="Rotate token", permissions=["rotate"])
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[Channel]) -> HttpResponse:
        rotations = channel_tokens_rotate(
            codes=list(queryset.order_by("code").values_list("code", flat=True)),
            expire_old_in=timedelta(minutes=60),
            actor=Actor.of_request(request),
            now=timezone.now(),
        )
        return _token_page(
            request,
            "New channel tokens",
            [(r.channel, r.token, r.old_expire_at) for r in rotations],
        )


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ["prefix", "channel", "user", "created_at", "expires_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "channel"]
    exclude = ["digest"]
    actions = ["revoke"]

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return _is_admin(request)

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = tokens_revoke(tokens=queryset, actor=Actor.of_request(request), now=timezone.now())
        self.message_user(
            request, f"Revoked {count} token(s); they are refused from now on.", messages.SUCCESS
        )


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


@admin.register(EventFailure)
class EventFailureAdmin(ReadOnlyAdmin):
    """Events a subscriber failed on: waiting out their backoff, or poison (`poisoned_at`) until
    replayed here or with `manage.py replay --event ID`."""

    list_display = ["event", "subscriber", "tries", "poisoned_at", "retry_at", "last_error"]
    list_filter = [("poisoned_at", admin.EmptyFieldListFilter)]
    search_fields = ["=event__id", "subscriber"]
    actions = ["replay"]

    @admin.action(
        description="Replay the selected events to their subscribers", permissions=["replay"]
    )
    def replay(self, request: HttpRequest, queryset: QuerySet[EventFailure]) -> None:
        from .replay import events_replay

        ids = sorted(set(queryset.values_list("event_id", flat=True)))
        results = events_replay(event_ids=ids)
        self.message_user(
            request,
            f"Replayed {len(results)} event(s): "
            + ", ".join(f"#{r.event_id} {r.status}" for r in results[:20]),
            messages.INFO,
        )

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("core.change_eventfailure")


@admin.register(ExceptionItem)
class ExceptionItemAdmin(admin.ModelAdmin[ExceptionItem]):
    list_display = ["pk", "kind", "reason", "object_label", "status", "occurrences", "created_at"]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["reason", "=correlation_id", "object_label"]
    readonly_fields = [f.name for f in ExceptionItem._meta.fields]
    list_select_related = ["channel"]


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor_name", "via", "action", "result", "outcome", "status_code"]
    list_filter = ["result", "via", "method"]
    search_fields = ["actor_name", "action", "outcome", "path", "=correlation_id"]
    date_hierarchy = "at"
    exclude = ["summary"]
    readonly_fields = ["what_was_asked"]

    @admin.display(description="What was asked")
    def what_was_asked(self, record: AuditRecord) -> str:
        """The request's summary as rows of what and how, not a Python dict."""
        rows = differences(record.summary)
        if not rows:
            return "—"
        return format_html(
            "<table>{}</table>",
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
        )


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class RoleUserAdmin(UserAdmin[Any]):
    list_display = ["username", "role", "email", "is_active", "last_login"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Role")
    def role(self, user: Any) -> str:
        roles = [group.name for group in user.groups.all() if group.name in ROLES]
        if user.is_superuser and "admin" not in roles:
            roles.append("admin")
        return ", ".join(sorted(roles)) or "—"
