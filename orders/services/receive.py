"""Receiving order messages: the raw body kept first, then the pipeline (`ingest`), in one
transaction; the common case (a valid new order in a new message) in one SQL statement. A stored
message is run again from its bytes by the same code on replay.

A request's walk: `orders.api.ingest` → `order_receive` → `_order_receive_new` (`rows`,
`insert_one`) or `order_message_process` → `ingest.orders_ingest` (`rows`, `update`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from retailsync.core.errors import FieldError, Malformed
from retailsync.core.events import event_dispatched_at, events_relay_request
from retailsync.core.models import Channel, InboundMessage
from retailsync.core.parsers import json_loads
from retailsync.core.services import (
    exception_raise,
    inbound_message_finish,
    inbound_message_new,
    inbound_message_reject,
    inbound_message_store,
)

from ..adapters import adapter_for
from .events import accepted_events
from .ingest import adapt, orders_ingest
from .insert_one import order_insert_one
from .outcomes import (
    CREATED,
    DUPLICATE,
    REJECTED,
    RESOLVED_ON_ACCEPT,
    IngestOutcome,
    rejection_key,
)
from .rows import (
    DISCOUNT_FIELDS,
    FEE_FIELDS,
    LINE_FIELDS,
    ORDER_FIELDS,
    PAYMENT_FIELDS,
    SHIPPING_FIELDS,
    TAX_FIELDS,
    Saved,
    fee_rows,
    line_rows,
    new_status,
    order_row,
    payment_rows,
    shipping_rows,
    tax_and_discount_rows,
)

logger = logging.getLogger(__name__)

BATCH_MAX = 500


def parse_json(body: bytes) -> Any:
    """JSON with every number as Decimal or int: amounts never pass through float. Text that
    PostgreSQL cannot hold (NUL, lone surrogates) is refused, naming where it is; the payload's
    shape is the channel's own, so no depth limit beyond the parser's."""
    return json_loads(body, max_depth=None)


def order_receive(
    *,
    channel: Channel,
    kind: str,
    body: bytes,
    headers: Mapping[str, str],
    correlation_id: str,
    now: datetime | None = None,
) -> tuple[InboundMessage, list[IngestOutcome]]:
    """Keep the raw body and run it through the pipeline, in one transaction (one commit).

    Whatever the caller sent, the message is kept: what cannot be read is stored as rejected with
    its errors. Should the pipeline itself break, the transaction is gone, so the body is stored
    again on its own as failed, with an exception for a person, before the error goes up.
    """
    now = now or timezone.now()

    def keep() -> InboundMessage:
        return inbound_message_store(
            channel=channel,
            kind=kind,
            body=body,
            headers=headers,
            correlation_id=correlation_id,
            now=now,
        )

    try:
        if kind == "order":
            received = _order_receive_new(
                channel=channel, body=body, headers=headers, correlation_id=correlation_id, now=now
            )
            if received is not None:
                return received
        with transaction.atomic():
            message = keep()
            return message, order_message_process(message=message, now=now)
    except Exception as exc:
        logger.exception("order pipeline failed on a %s message from %s", kind, channel.code)
        with transaction.atomic():
            message = keep()
            inbound_message_finish(
                message,
                status=InboundMessage.Status.FAILED,
                errors=[{"field": "", "message": repr(exc)[:500]}],
                now=now,
            )
            exception_raise(
                kind="ingest_failed",
                reason=f"the order pipeline failed: {exc!r}"[:2000],
                object_type="inbound_message",
                object_id=message.pk,
                object_label=f"{channel.code} message {message.pk}",
                channel=channel,
                correlation_id=correlation_id,
                now=now,
            )
        raise


def _order_receive_new(
    *,
    channel: Channel,
    body: bytes,
    headers: Mapping[str, str],
    correlation_id: str,
    now: datetime,
) -> tuple[InboundMessage, list[IngestOutcome]] | None:
    """The common delivery in one statement (`insert_one`): a valid order the channel has not
    sent before, in a message not delivered before. It writes exactly what the general path
    would: the message with its final status and result, the order and its details, the
    accepted event, open rejections of the order resolved. Anything else (unreadable, invalid,
    a known external id or message id) returns None having written nothing, and the general
    path reads the message again and decides. So does everything on SQLite (the demo): the
    statement is PostgreSQL's."""
    if connection.vendor != "postgresql":
        return None
    message = inbound_message_new(
        channel=channel,
        kind="order",
        body=body,
        headers=headers,
        correlation_id=correlation_id,
        now=now,
    )
    try:
        data = parse_json(body)
    except Malformed:
        return None
    item = adapt(adapter_for(channel.source), 0, data, headers)
    if isinstance(item, IngestOutcome):
        return None
    c = item.order
    message.status = InboundMessage.Status.PROCESSED
    message.error = []
    message.processed_at = now
    events = [
        (
            e.name,
            e.aggregate_type,
            e.payload,
            correlation_id,
            now,
            e.lane,
            event_dispatched_at(e.name, now),
        )
        # The statement puts in the ids it draws: the order's, and its lines'.
        for e in accepted_events(channel, Saved(0, "", [0] * len(c.lines)), c)
    ]
    taxes, discounts = tax_and_discount_rows(
        None,
        c,
        range(1, len(c.lines) + 1),
        range(1, len(c.shipping_lines) + 1),
        range(1, len(c.fees) + 1),
    )
    with transaction.atomic() if connection.in_atomic_block else nullcontext():
        # (Inside a caller's transaction, a savepoint keeps a failure from poisoning it.)
        ids = order_insert_one(
            tables={
                "order": (ORDER_FIELDS, [order_row(channel, item, None, correlation_id, now)]),
                "lines": (LINE_FIELDS, line_rows(None, c)),
                "shipping": (SHIPPING_FIELDS, shipping_rows(None, c)),
                "fees": (FEE_FIELDS, fee_rows(None, c)),
                "taxes": (TAX_FIELDS, taxes),
                "discounts": (DISCOUNT_FIELDS, discounts),
                "payments": (PAYMENT_FIELDS, payment_rows(None, c)),
            },
            message=message,
            result=CREATED,
            events=events,
            rejection_key=rejection_key(channel, c.external_id),
            resolution=RESOLVED_ON_ACCEPT,
            now=now,
        )
    if ids is None:
        return None
    order_id, message.pk = ids
    message.result = {"orders": [[0, CREATED, order_id]]}
    if any(dispatched_at is None for *_, dispatched_at in events):
        transaction.on_commit(events_relay_request)
    return message, [IngestOutcome(0, CREATED, order_id, order_status=new_status(c))]


def order_message_replay(*, message: InboundMessage, now: datetime) -> str:
    """The processor of order messages (single and batch) that replay runs: what came of each
    order, in a line (`created #12, duplicate #13`)."""
    outcomes = order_message_process(message=message, now=now)
    return ", ".join(
        f"{o.status}" + (f" #{o.order_id}" if o.order_id else "") for o in outcomes[:10]
    )


def order_message_process(
    *, message: InboundMessage, now: datetime | None = None
) -> list[IngestOutcome]:
    """Run one stored inbound message (a single order or a batch) through the pipeline.

    The HTTP endpoints and `manage.py replay` both come here, so a replay is exactly what a
    live delivery would have done with the same bytes. A message that cannot be read at all
    answers one rejected, malformed outcome.
    """
    with transaction.atomic(savepoint=False):
        return _message_process(message, now or timezone.now())


def _message_process(message: InboundMessage, now: datetime) -> list[IngestOutcome]:
    channel = message.channel
    earlier = _earlier_delivery(message)
    if earlier is not None:
        # The channel redelivered a message we processed: answer as before, change nothing,
        # even if the order has moved on since (an old orders/create must not undo an update).
        outcomes = [IngestOutcome(index, DUPLICATE, order_id) for index, _, order_id in earlier]
        inbound_message_finish(
            message,
            status=InboundMessage.Status.DUPLICATE,
            result={"orders": [[o.index, o.status, o.order_id] for o in outcomes]},
            now=now,
        )
        return outcomes
    try:
        data = parse_json(bytes(message.body))
        payloads = _batch_payloads(data) if message.kind == "order_batch" else [data]
    except Malformed as exc:
        _reject_message(message, exc.errors, now=now)
        return [IngestOutcome(0, REJECTED, errors=exc.errors, malformed=True, whole_message=True)]
    outcomes = orders_ingest(
        channel=channel, payloads=payloads, headers=message.headers, message=message, now=now
    )
    statuses = {o.status for o in outcomes}
    if statuses <= {DUPLICATE}:
        status = InboundMessage.Status.DUPLICATE
    elif statuses <= {REJECTED}:
        status = InboundMessage.Status.REJECTED
    else:
        status = InboundMessage.Status.PROCESSED
    inbound_message_finish(
        message,
        status=status,
        result={"orders": [[o.index, o.status, o.order_id] for o in outcomes]},
        errors=[
            {
                "field": f"orders[{o.index}].{e.field}".rstrip(".")
                if message.kind == "order_batch"
                else e.field,
                "message": e.message,
            }
            for o in outcomes
            for e in o.errors
        ],
        now=now,
    )
    return outcomes


def _earlier_delivery(message: InboundMessage) -> list[list[Any]] | None:
    """The results of the first delivery of this channel message id, if it fully succeeded."""
    if message.duplicate_of_id is None:
        return None
    first = (
        InboundMessage.objects.filter(pk=message.duplicate_of_id).only("status", "result").first()
    )
    if first is None or first.status not in (
        InboundMessage.Status.PROCESSED,
        InboundMessage.Status.DUPLICATE,
    ):
        return None
    results = first.result.get("orders") or []
    if not results or any(
        status == REJECTED or order_id is None for _, status, order_id in results
    ):
        return None
    return results


def _batch_payloads(data: Any) -> list[Any]:
    """The payloads of a batch message, `{"orders": [...]}` of at most `BATCH_MAX`."""
    if not isinstance(data, dict) or not isinstance(data.get("orders"), list):
        raise Malformed('a batch is {"orders": [payload, ...]}', field="orders")
    payloads: list[Any] = data["orders"]
    if not payloads:
        raise Malformed("a batch needs at least one order", field="orders")
    if len(payloads) > BATCH_MAX:
        raise Malformed(
            f"at most {BATCH_MAX} orders per batch, not {len(payloads)}", field="orders"
        )
    return payloads


def _reject_message(message: InboundMessage, errors: list[FieldError], *, now: datetime) -> None:
    inbound_message_reject(
        message,
        errors=[e.as_dict() for e in errors],
        reason=f"{message.kind} message could not be read: {errors[0].message}",
        now=now,
    )
