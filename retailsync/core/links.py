"""What the core itself names in the exception queue and the trace: a stored inbound message
and a domain event, each linked to the trace of its correlation id. The apps register theirs
(orders, returns, settlements, ...) from their own `ready()`."""

from __future__ import annotations

from collections.abc import Sequence

from django.urls import reverse

from .models import DomainEvent, InboundMessage
from .registry import ObjectLink, register_object_link, register_reasons

REASONS = {
    "message_rejected": "a channel's message was refused: read its errors, fix, replay",
    "poison_event": "a subscriber keeps failing on an event: fix the cause, then replay it",
}


def _ids(ids: Sequence[str]) -> list[int]:
    return [int(i) for i in ids if i.isdigit() and len(i) < 19]


def messages_linked(ids: Sequence[str]) -> dict[str, ObjectLink]:
    rows = InboundMessage.objects.filter(pk__in=_ids(ids)).values_list(
        "pk", "kind", "channel__code", "correlation_id"
    )
    return {
        str(pk): ObjectLink(
            reverse("trace-page", args=[correlation_id]), f"{channel} {kind} message {pk}"
        )
        for pk, kind, channel, correlation_id in rows
    }


def events_linked(ids: Sequence[str]) -> dict[str, ObjectLink]:
    rows = DomainEvent.objects.filter(pk__in=_ids(ids)).values_list("pk", "name", "correlation_id")
    return {
        str(pk): ObjectLink(reverse("trace-page", args=[correlation_id]), f"{name} event {pk}")
        for pk, name, correlation_id in rows
    }


def register() -> None:
    register_reasons("integration", REASONS)
    register_object_link("inbound_message", messages_linked)
    register_object_link("event", events_linked)
