"""A refund message from a channel (Shopify `refunds/create`, canonical JSON), kept in the inbound
store like every delivery and recorded by `channel_refunds`. The endpoint and `manage.py replay`
both run a stored message through here, so a replay does what the delivery would have done."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from orders.adapters.base import MalformedPayload
from orders.services import parse_json
from retailsync.core.errors import DomainError, Malformed
from retailsync.core.models import Channel, InboundMessage
from retailsync.core.services import exception_raise, inbound_message_finish

from .adapters.refunds import PARSERS
from .channel_refunds import ChannelRefund, channel_refund_record
from .models import Return


def refund_parser_for(channel: Channel) -> Callable[[Any], ChannelRefund]:
    """The reader of refunds from channels of this channel's source; refused (400) for a source
    that does not report refunds here."""
    parse = PARSERS.get(channel.source)
    if parse is None:
        raise Malformed(f"{channel.source} channels do not report refunds here")
    return parse


def channel_refund_message_process(
    *, message: InboundMessage, now: datetime | None = None
) -> tuple[Return, bool]:
    """Record the refund a stored message reports: (its return, whether the refund was new).

    A refund that cannot be read or recorded is refused: the message is rejected with the
    errors, an exception is queued for a person, and the error goes up (`Malformed` for a
    payload that is not the source's shape)."""
    channel = message.channel
    parse = refund_parser_for(channel)
    try:
        refund = parse(parse_json(bytes(message.body)))
        ret, created = channel_refund_record(channel_code=channel.code, refund=refund, now=now)
    except (MalformedPayload, DomainError) as exc:
        errors = [e.as_dict() for e in exc.errors]
        inbound_message_finish(message, status="rejected", errors=errors, now=now)
        exception_raise(
            kind="refund_rejected",
            reason="; ".join(e["message"] for e in errors)[:2000],
            details={"errors": errors},
            object_type="inbound_message",
            object_id=message.pk,
            object_label=f"{channel.code} refund message {message.pk}",
            channel=channel,
            correlation_id=message.correlation_id,
            now=now,
        )
        if isinstance(exc, MalformedPayload):
            raise Malformed(exc.errors) from None
        raise
    inbound_message_finish(
        message,
        status="processed" if created else "duplicate",
        result={"return": ret.pk},
        now=now,
    )
    return ret, created


def channel_refund_message_replay(*, message: InboundMessage, now: datetime) -> str:
    """The processor of refund messages that replay runs."""
    ret, created = channel_refund_message_process(message=message, now=now)
    return f"{'created' if created else 'duplicate'} RMA-{ret.pk}"
