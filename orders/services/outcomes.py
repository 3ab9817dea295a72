"""What ingestion answers for each payload, and what a rejected one leaves for a person: an
exception per channel order (one open per external id), resolved when the order is accepted on
a later delivery or replay."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from retailsync.core.errors import FieldError
from retailsync.core.models import Channel, ExceptionItem, InboundMessage
from retailsync.core.services import exception_raise

CREATED, DUPLICATE, UPDATED, REJECTED = "created", "duplicate", "updated", "rejected"
RESOLVED_ON_ACCEPT = "accepted on a later delivery or replay"


@dataclass(slots=True)
class IngestOutcome:
    index: int
    status: str
    order_id: int | None = None
    errors: list[FieldError] = field(default_factory=list)
    malformed: bool = False  # 400 rather than 422
    note: str = ""
    order_status: str = ""
    whole_message: bool = False  # the message itself could not be read: no payload was looked at

    @property
    def http_status(self) -> int:
        if self.status == REJECTED:
            return 400 if self.malformed else 422
        return 201 if self.status == CREATED else 200


def rejection_key(channel: Channel, external_id: str) -> str:
    return f"order_rejected:{channel.code}:{external_id}"


def _guess_external_id(payload: Any) -> str:
    if isinstance(payload, dict):
        for key in ("external_id", "id", "AmazonOrderId", "entity_id", "increment_id"):
            if isinstance(payload.get(key), str | int):
                return str(payload[key])
        order = payload.get("Order") or payload.get("order")
        if isinstance(order, dict):
            return _guess_external_id(order)
    return ""


def rejection_record(
    *,
    channel: Channel,
    payload: Any,
    outcome: IngestOutcome,
    message: InboundMessage | None,
    correlation_id: str,
    now: datetime,
) -> None:
    """The exception for a person about a payload that was rejected."""
    external_id = _guess_external_id(payload)
    key_part = external_id or f"message-{message.pk if message else 'none'}-{outcome.index}"
    exception_raise(
        kind="order_rejected",
        reason="; ".join(
            f"{e.field}: {e.message}" if e.field else e.message for e in outcome.errors
        )[:2000],
        details={
            "errors": [e.as_dict() for e in outcome.errors],
            "index": outcome.index,
            "http_status": outcome.http_status,
            "inbound_message": message.pk if message else None,
        },
        object_type="inbound_message" if message else "",
        object_id=message.pk if message else "",
        object_label=f"{channel.code} order {external_id or '(no id)'}",
        channel=channel,
        dedupe_key=rejection_key(channel, key_part),
        correlation_id=correlation_id,
        now=now,
    )


def rejections_resolve(*, keys: Sequence[str], now: datetime) -> None:
    """Resolve the open rejections of orders now accepted (their `rejection_key`s)."""
    if keys:
        ExceptionItem.objects.filter(status=ExceptionItem.Status.OPEN, dedupe_key__in=keys).update(
            status=ExceptionItem.Status.RESOLVED, resolved_at=now, resolution=RESOLVED_ON_ACCEPT
        )
