"""Every write to canonical orders: ingestion (single, batch, replay), updates, shipments and
cancellations. Each public function owns one transaction and records domain events in it."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from retailsync.correlation import ensure_correlation_id
from retailsync.db import insert_new, insert_returning
from retailsync.errors import BusinessRuleViolation, Conflict, FieldError, Malformed, NotFound
from retailsync.events import (
    NewEvent,
    event_dispatched_at,
    events_record,
    events_relay_request,
    lane_of,
)
from retailsync.models import Channel, ExceptionItem, InboundMessage
from retailsync.parsers import json_loads
from retailsync.services import (
    exception_raise,
    inbound_message_finish,
    inbound_message_new,
    inbound_message_reject,
    inbound_message_store,
)

from . import adapters
from .adapters.base import CanonicalOrder, MalformedPayload
from .models import (
    DiscountAllocation,
    Order,
    OrderChange,
    OrderFee,
    OrderLine,
    Payment,
    Shipment,
    ShipmentLine,
    ShippingLine,
    TaxLine,
)
from .single import order_insert_one
from .validation import order_problems

logger = logging.getLogger(__name__)

CREATED, DUPLICATE, UPDATED, REJECTED = "created", "duplicate", "updated", "rejected"
RESOLVED_ON_ACCEPT = "accepted on a later delivery or replay"
BATCH_MAX = 500


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


@dataclass(slots=True)
class _Prepared:
    index: int
    order: CanonicalOrder
    content_hash: str


def content_hash(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def parse_json(body: bytes) -> Any:
    """JSON with every number as Decimal or int: amounts never pass through float. Text that
    PostgreSQL cannot hold (NUL, lone surrogates) is refused, naming where it is; the payload's
    shape is the channel's own, so no depth limit beyond the parser's."""
    return json_loads(body, max_depth=None)


# --- ingestion ------------------------------------------------------------------------------


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
    try:
        if kind == "order":
            received = _order_receive_new(
                channel=channel, body=body, headers=headers, correlation_id=correlation_id, now=now
            )
            if received is not None:
                return received
        with transaction.atomic():
            message = inbound_message_store(
                channel=channel,
                kind=kind,
                body=body,
                headers=headers,
                correlation_id=correlation_id,
            )
            return message, order_message_process(message=message, now=now)
    except Exception as exc:
        logger.exception("order pipeline failed on a %s message from %s", kind, channel.code)
        with transaction.atomic():
            message = inbound_message_store(
                channel=channel,
                kind=kind,
                body=body,
                headers=headers,
                correlation_id=correlation_id,
            )
            inbound_message_finish(
                message,
                status=InboundMessage.Status.FAILED,
                errors=[{"field": "", "message": repr(exc)[:500]}],
            )
            exception_raise(
                kind="ingest_failed",
                reason=f"the order pipeline failed: {exc!r}"[:2000],
                object_type="inbound_message",
                object_id=message.pk,
                object_label=f"{channel.code} message {message.pk}",
                channel=channel,
                correlation_id=correlation_id,
            )
        raise


def _order_receive_new(
    *,
    channel: Channel,
    body: bytes,
    headers: Mapping[str, str],
    correlation_id: str,
    now: datetime | None,
) -> tuple[InboundMessage, list[IngestOutcome]] | None:
    """The common delivery in one statement (`orders.single`): a valid order the channel has not
    sent before, in a message not delivered before. It writes exactly what the general path
    would: the message with its final status and result, the order and its details, the
    accepted event, open rejections of the order resolved. Anything else (unreadable, invalid,
    a known external id or message id) returns None having written nothing, and the general
    path reads the message again and decides. So does everything on SQLite (the demo): the
    statement is PostgreSQL's."""
    if connection.vendor != "postgresql":
        return None
    message = inbound_message_new(
        channel=channel, kind="order", body=body, headers=headers, correlation_id=correlation_id
    )
    try:
        data = parse_json(body)
    except Malformed:
        return None
    item = _adapt(adapters.adapter_for(channel.source), 0, data, headers)
    if isinstance(item, IngestOutcome):
        return None
    now = now or timezone.now()
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
        for e in _accepted_events(channel, _Saved(0, "", [0] * len(c.lines)), c)
    ]
    taxes, discounts = _tax_and_discount_rows(
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
                "order": (_ORDER_FIELDS, [_order_row(channel, item, None, correlation_id, now)]),
                "lines": (_LINE_FIELDS, _line_rows(None, c)),
                "shipping": (_SHIPPING_FIELDS, _shipping_rows(None, c)),
                "fees": (_FEE_FIELDS, _fee_rows(None, c)),
                "taxes": (_TAX_FIELDS, taxes),
                "discounts": (_DISCOUNT_FIELDS, discounts),
                "payments": (_PAYMENT_FIELDS, _payment_rows(None, c)),
            },
            message=message,
            result=CREATED,
            events=events,
            rejection_key=_rejection_key(channel, c.external_id),
            resolution=RESOLVED_ON_ACCEPT,
            now=now,
        )
    if ids is None:
        return None
    order_id, message.pk = ids
    message.result = {"orders": [[0, CREATED, order_id]]}
    if any(dispatched_at is None for *_, dispatched_at in events):
        transaction.on_commit(events_relay_request)
    return message, [IngestOutcome(0, CREATED, order_id, order_status=_new_status(c))]


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
    if not isinstance(data, dict) or not isinstance(data.get("orders"), list):
        raise Malformed('a batch is {"orders": [payload, ...]}', field="orders")
    payloads = data["orders"]
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


def _adapt(
    adapter: adapters.Adapter, index: int, payload: Any, headers: Mapping[str, str]
) -> _Prepared | IngestOutcome:
    try:
        order = adapter(payload, headers)
    except MalformedPayload as exc:
        return IngestOutcome(index, REJECTED, errors=exc.errors, malformed=True)
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError, IndexError) as exc:
        # An adapter tripping on a shape it did not expect is still the payload's problem.
        logger.warning("adapter could not read payload %s: %r", index, exc)
        return IngestOutcome(
            index,
            REJECTED,
            errors=[FieldError("", f"payload could not be read: {exc}")],
            malformed=True,
        )
    problems = order_problems(order)
    if problems:
        return IngestOutcome(index, REJECTED, errors=problems)
    return _Prepared(index, order, content_hash(payload))


def orders_ingest(
    *,
    channel: Channel,
    payloads: Sequence[Any],
    headers: Mapping[str, str],
    message: InboundMessage | None = None,
    now: datetime | None = None,
    source: str = "",
) -> list[IngestOutcome]:
    """Adapt, validate and save channel payloads, set-based: one transaction, bulk inserts for
    new orders, the careful one-by-one path only for updates and races."""
    now = now or timezone.now()
    correlation_id = message.correlation_id if message else ensure_correlation_id()
    adapter = adapters.adapter_for(source or channel.source)
    outcomes: dict[int, IngestOutcome] = {}
    prepared: list[_Prepared] = []
    for index, payload in enumerate(payloads):
        result = _adapt(adapter, index, payload, headers)
        if isinstance(result, IngestOutcome):
            outcomes[index] = result
        else:
            prepared.append(result)

    events: list[NewEvent] = []
    with transaction.atomic(savepoint=False):
        # Every first mention is tried as new; what exists already (or arrives concurrently) is
        # skipped by the insert itself and taken one by one: a redelivery, or an update.
        fresh: list[_Prepared] = []
        one_by_one: list[_Prepared] = []
        seen: set[str] = set()
        for item in prepared:
            (one_by_one if item.order.external_id in seen else fresh).append(item)
            seen.add(item.order.external_id)
        for item, saved in zip(
            fresh, _orders_insert(channel, fresh, message, correlation_id, now), strict=True
        ):
            if saved is None:
                one_by_one.append(item)
                continue
            outcomes[item.index] = IngestOutcome(
                item.index, CREATED, saved.order_id, order_status=saved.status
            )
            events += _accepted_events(channel, saved, item.order)
        for item in sorted(one_by_one, key=lambda p: p.index):
            outcome, more = _order_upsert(channel, item, message, correlation_id, now)
            outcomes[item.index] = outcome
            events += more
        if events:
            events_record(events, correlation_id=correlation_id)
        accepted_keys = [
            _rejection_key(channel, p.order.external_id)
            for p in prepared
            if outcomes[p.index].status != REJECTED
        ]
        if accepted_keys:
            ExceptionItem.objects.filter(
                status=ExceptionItem.Status.OPEN, dedupe_key__in=accepted_keys
            ).update(
                status=ExceptionItem.Status.RESOLVED,
                resolved_at=now,
                resolution=RESOLVED_ON_ACCEPT,
            )
        for index, payload in enumerate(payloads):
            outcome = outcomes[index]
            if outcome.status == REJECTED:
                _exception_for_rejection(channel, payload, outcome, message, correlation_id, now)
    return [outcomes[i] for i in range(len(payloads))]


def _rejection_key(channel: Channel, external_id: str) -> str:
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


def _exception_for_rejection(
    channel: Channel,
    payload: Any,
    outcome: IngestOutcome,
    message: InboundMessage | None,
    correlation_id: str,
    now: datetime,
) -> None:
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
        dedupe_key=_rejection_key(channel, key_part),
        correlation_id=correlation_id,
        now=now,
    )


def _header_values(c: CanonicalOrder) -> dict[str, Any]:
    return {
        "order_number": c.order_number[:64],
        "currency": c.currency,
        "channel_status": c.channel_status[:40],
        "placed_at": c.placed_at,
        "source_updated_at": c.source_updated_at,
        "prices_include_tax": c.prices_include_tax,
        "subtotal": c.subtotal,
        "discount": c.discount,
        "shipping": c.shipping,
        "fees": c.fees_total,
        "tax": c.tax,
        "total": c.total,
        "customer_email": c.customer_email[:200],
        "customer_ref": c.customer_ref[:32],
        "fulfilment_location": c.fulfilment_location[:64],
        "metadata": c.metadata,
    }


def _line_values(c: CanonicalOrder, position: int) -> dict[str, Any]:
    line = c.lines[position]
    return {
        "position": position,
        "external_id": line.external_id[:64],
        "sku": line.sku[:100],
        "name": line.name[:300],
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "discount": line.discount,
        "tax": line.tax,
        "total": c.line_total(line),
        "is_gift_card": line.is_gift_card,
        "metadata": line.metadata,
    }


@dataclass(frozen=True, slots=True)
class _Saved:
    order_id: int
    status: str
    line_ids: list[int]


_ORDER_FIELDS = (
    "channel",
    "legal_entity",
    "external_id",
    "correlation_id",
    "created_at",
    "updated_at",
    "inbound_message",
    "cancelled_at",
    "status",
    "content_hash",
    "order_number",
    "currency",
    "channel_status",
    "placed_at",
    "source_updated_at",
    "prices_include_tax",
    "subtotal",
    "discount",
    "shipping",
    "fees",
    "tax",
    "total",
    "customer_email",
    "customer_ref",
    "fulfilment_location",
    "metadata",
)
_LINE_FIELDS = (
    "order",
    "quantity_returned",
    "quantity_shipped",
    "quantity_cancelled",
    "position",
    "external_id",
    "sku",
    "name",
    "quantity",
    "unit_price",
    "discount",
    "tax",
    "total",
    "is_gift_card",
    "metadata",
)


def _order_row(
    channel: Channel,
    p: _Prepared,
    message: InboundMessage | None,
    correlation_id: str,
    now: datetime,
) -> tuple[Any, ...]:
    """An order's values in `_ORDER_FIELDS` order."""
    return (
        channel.pk,
        channel.legal_entity_id,
        p.order.external_id,
        correlation_id,
        now,
        now,
        message.pk if message else None,
        now if p.order.cancelled else None,
        _new_status(p.order),
        p.content_hash,
        *_header_values(p.order).values(),
    )


def _new_status(c: CanonicalOrder) -> str:
    return Order.Status.CANCELLED if c.cancelled else Order.Status.ACCEPTED


def _line_rows(order_id: int | None, c: CanonicalOrder) -> list[tuple[Any, ...]]:
    """A new order's lines in `_LINE_FIELDS` order, by position."""
    return [
        (
            order_id,
            0,  # returned
            0,  # shipped
            c.lines[pos].quantity if c.cancelled else 0,
            *_line_values(c, pos).values(),
        )
        for pos in range(len(c.lines))
    ]


def _orders_insert(
    channel: Channel,
    items: list[_Prepared],
    message: InboundMessage | None,
    correlation_id: str,
    now: datetime,
) -> list[_Saved | None]:
    """New orders with everything they carry, in one statement per table for the whole set;
    None for an order that exists already (its external id is taken)."""
    if not items:
        return []
    new_ids = insert_new(
        Order,
        _ORDER_FIELDS,
        (_order_row(channel, p, message, correlation_id, now) for p in items),
        unique=("channel", "external_id"),
        key="external_id",
    )
    items_all, items = items, [p for p in items if p.order.external_id in new_ids]
    order_ids = [new_ids[p.order.external_id] for p in items]
    line_ids = insert_returning(
        OrderLine,
        _LINE_FIELDS,
        (
            row
            for order_id, p in zip(order_ids, items, strict=True)
            for row in _line_rows(order_id, p.order)
        ),
    )
    saved = []
    taken = 0
    for order_id, p in zip(order_ids, items, strict=True):
        saved.append(
            _Saved(order_id, _new_status(p.order), line_ids[taken : taken + len(p.order.lines)])
        )
        taken += len(p.order.lines)
    _details_insert(
        [(sv.order_id, p.order, sv.line_ids) for sv, p in zip(saved, items, strict=True)]
    )
    by_external = {p.order.external_id: sv for sv, p in zip(saved, items, strict=True)}
    return [by_external.get(p.order.external_id) for p in items_all]


_SHIPPING_FIELDS = ("order", "title", "code", "amount", "discount", "tax")
_FEE_FIELDS = ("order", "kind", "title", "amount", "tax")
_TAX_FIELDS = (
    "order",
    "target",
    "line",
    "shipping_line",
    "fee",
    "title",
    "jurisdiction",
    "rate",
    "amount",
    "provider_reference",
    "collected_by_channel",
)
_DISCOUNT_FIELDS = ("order", "line", "shipping_line", "code", "title", "amount")
_PAYMENT_FIELDS = (
    "order",
    "gateway",
    "kind",
    "method",
    "reference",
    "currency",
    "amount",
    "authorized_amount",
    "captured_amount",
    "metadata",
)


def _shipping_rows(o: int | None, c: CanonicalOrder) -> list[tuple[Any, ...]]:
    return [
        (o, sl.title[:200], sl.code[:100], sl.amount, sl.discount, sl.tax)
        for sl in c.shipping_lines
    ]


def _fee_rows(o: int | None, c: CanonicalOrder) -> list[tuple[Any, ...]]:
    return [(o, f.kind[:32], f.title[:200], f.amount, f.tax) for f in c.fees]


def _payment_rows(o: int | None, c: CanonicalOrder) -> list[tuple[Any, ...]]:
    return [
        (
            o,
            p.gateway[:100],
            p.kind[:32],
            p.method[:100],
            p.reference[:200],
            c.currency,
            p.amount,
            p.authorized_amount,
            p.captured_amount,
            p.metadata,
        )
        for p in c.payments
    ]


def _tax_and_discount_rows(
    o: int | None,
    c: CanonicalOrder,
    line_ids: Sequence[int],
    ship_ids: Sequence[int],
    fee_ids: Sequence[int],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Tax lines and discount allocations (`_TAX_FIELDS`, `_DISCOUNT_FIELDS` order) pointing at
    the given ids of the order's lines, shipping lines and fees."""
    taxes: list[tuple[Any, ...]] = []
    discounts: list[tuple[Any, ...]] = []

    def tax(
        t: Any,
        target: str,
        line: int | None = None,
        ship: int | None = None,
        fee: int | None = None,
    ) -> tuple[Any, ...]:
        return (
            o,
            target,
            line,
            ship,
            fee,
            t.title[:200],
            t.jurisdiction[:200],
            t.rate,
            t.amount,
            t.provider_reference[:200],
            t.collected_by_channel,
        )

    for line_id, src in zip(line_ids, c.lines, strict=True):
        taxes += [tax(t, TaxLine.Target.LINE, line=line_id) for t in src.tax_lines]
        discounts += [
            (o, line_id, None, d.code[:200], d.title[:200], d.amount) for d in src.discounts
        ]
    for ship_id, src_ship in zip(ship_ids, c.shipping_lines, strict=True):
        taxes += [tax(t, TaxLine.Target.SHIPPING, ship=ship_id) for t in src_ship.tax_lines]
        discounts += [
            (o, None, ship_id, d.code[:200], d.title[:200], d.amount) for d in src_ship.discounts
        ]
    for fee_id, src_fee in zip(fee_ids, c.fees, strict=True):
        taxes += [tax(t, TaxLine.Target.FEE, fee=fee_id) for t in src_fee.tax_lines]
    return taxes, discounts


def _details_insert(entries: Sequence[tuple[int, CanonicalOrder, list[int]]]) -> None:
    """Shipping, fees, tax lines, discount allocations and payments for saved orders and lines."""
    ship_ids = iter(
        insert_returning(
            ShippingLine,
            _SHIPPING_FIELDS,
            (row for o, c, _ in entries for row in _shipping_rows(o, c)),
        )
    )
    fee_ids = iter(
        insert_returning(
            OrderFee, _FEE_FIELDS, (row for o, c, _ in entries for row in _fee_rows(o, c))
        )
    )
    taxes: list[tuple[Any, ...]] = []
    discounts: list[tuple[Any, ...]] = []
    for o, c, line_ids in entries:
        more_taxes, more_discounts = _tax_and_discount_rows(
            o,
            c,
            line_ids,
            [next(ship_ids) for _ in c.shipping_lines],
            [next(fee_ids) for _ in c.fees],
        )
        taxes += more_taxes
        discounts += more_discounts
    insert_returning(TaxLine, _TAX_FIELDS, taxes)
    insert_returning(DiscountAllocation, _DISCOUNT_FIELDS, discounts)
    insert_returning(
        Payment, _PAYMENT_FIELDS, (row for o, c, _ in entries for row in _payment_rows(o, c))
    )


def _line_event_data(
    lines: Iterable[OrderLine], quantity_of: str = "quantity"
) -> list[dict[str, Any]]:
    return [
        {"line_id": line.pk, "sku": line.sku, "quantity": getattr(line, quantity_of)}
        for line in lines
    ]


def _accepted_events(channel: Channel, saved: _Saved, c: CanonicalOrder) -> list[NewEvent]:
    if c.cancelled:
        return []
    return [
        NewEvent(
            "order.accepted",
            "order",
            saved.order_id,
            {
                "order_id": saved.order_id,
                "channel": channel.code,
                "external_id": c.external_id,
                "currency": c.currency,
                "total": c.total,
                "fulfilment_location": c.fulfilment_location,
                "channel_status": c.channel_status,
                "placed_at": c.placed_at,
                "lines": [
                    {"line_id": line_id, "sku": line.sku, "quantity": line.quantity}
                    for line_id, line in zip(saved.line_ids, c.lines, strict=True)
                ],
            },
            lane=lane_of(line.sku for line in c.lines),
        )
    ]


def _order_upsert(
    channel: Channel,
    item: _Prepared,
    message: InboundMessage | None,
    correlation_id: str,
    now: datetime,
) -> tuple[IngestOutcome, list[NewEvent]]:
    """One order that exists already (or raced): a redelivery, an update, or a stale retry."""
    c = item.order
    order = (
        Order.objects.select_for_update()
        .select_related("channel")
        .filter(channel=channel, external_id=c.external_id)
        .first()
    )
    if order is None:
        [saved] = _orders_insert(channel, [item], message, correlation_id, now)
        if saved is not None:
            return IngestOutcome(
                item.index, CREATED, saved.order_id, order_status=saved.status
            ), _accepted_events(channel, saved, c)
        # Saved by a concurrent delivery between our look and our insert: it exists now.
        order = Order.objects.select_for_update().get(channel=channel, external_id=c.external_id)
    if order.content_hash == item.content_hash:
        return IngestOutcome(item.index, DUPLICATE, order.pk, order_status=order.status), []
    if (
        c.source_updated_at
        and order.source_updated_at
        and c.source_updated_at < order.source_updated_at
    ):
        return IngestOutcome(
            item.index,
            DUPLICATE,
            order.pk,
            note="older than the version we hold; ignored",
            order_status=order.status,
        ), []
    try:
        with transaction.atomic():
            events = _order_apply_update(order, c, item.content_hash, message, correlation_id, now)
    except BusinessRuleViolation as exc:
        return IngestOutcome(item.index, REJECTED, order.pk, errors=exc.errors), []
    return IngestOutcome(item.index, UPDATED, order.pk, order_status=order.status), events


_DIFFED_HEADER = (
    "order_number",
    "currency",
    "channel_status",
    "placed_at",
    "prices_include_tax",
    "subtotal",
    "discount",
    "shipping",
    "fees",
    "tax",
    "total",
    "fulfilment_location",
    "customer_email",
)
_DIFFED_LINE = ("sku", "quantity", "unit_price", "discount", "tax", "total")


def _order_apply_update(
    order: Order,
    c: CanonicalOrder,
    content: str,
    message: InboundMessage | None,
    correlation_id: str,
    now: datetime,
) -> list[NewEvent]:
    new_header = _header_values(c)
    changes: dict[str, Any] = {
        name: [getattr(order, name), new_header[name]]
        for name in _DIFFED_HEADER
        if getattr(order, name) != new_header[name]
    }
    existing = {
        line.external_id or str(line.position): line
        for line in order.lines.select_for_update().order_by("pk")
    }
    kept: list[OrderLine] = []
    line_changes: dict[str, Any] = {}
    problems: list[FieldError] = []
    for pos, src in enumerate(c.lines):
        values = _line_values(c, pos)
        line = existing.pop(src.external_id or str(pos), None)
        if line is None:
            line = OrderLine(order=order, **values)
            line_changes[line.external_id or str(pos)] = "added"
        else:
            diff = {
                k: [getattr(line, k), values[k]]
                for k in _DIFFED_LINE
                if getattr(line, k) != values[k]
            }
            if diff:
                line_changes[line.external_id or str(pos)] = diff
            if values["quantity"] < line.quantity_shipped + line.quantity_cancelled:
                problems.append(
                    FieldError(
                        f"lines[{pos}].quantity",
                        f"{line.quantity_shipped} shipped and {line.quantity_cancelled} cancelled "
                        f"already; cannot become {values['quantity']}",
                    )
                )
            for key, value in values.items():
                setattr(line, key, value)
        kept.append(line)
    for key, gone in existing.items():
        if gone.quantity_shipped:
            problems.append(FieldError("lines", f"line {key} has shipped and cannot be removed"))
        line_changes[key] = "removed"
    if problems:
        raise BusinessRuleViolation(problems)
    # Details are rebuilt from the new version; the change record keeps what they were.
    for model in (TaxLine, DiscountAllocation, Payment):
        model.objects.filter(order=order).delete()
    ShippingLine.objects.filter(order=order).delete()
    OrderFee.objects.filter(order=order).delete()
    OrderLine.objects.filter(pk__in=[g.pk for g in existing.values()]).delete()
    for line in kept:
        line.save()
    _details_insert([(order.pk, c, [line.pk for line in kept])])
    for name, value in new_header.items():
        setattr(order, name, value)
    order.content_hash = content
    order.inbound_message = message
    order.updated_at = now
    events = [
        NewEvent(
            "order.updated",
            "order",
            order.pk,
            {"order_id": order.pk, "changes": {**changes, "lines": line_changes}},
        )
    ]
    if c.cancelled and order.status != Order.Status.CANCELLED:
        cancelled = _cancel_open(kept)
        changes["cancelled"] = _line_event_data(cancelled, "quantity_cancelled")
        order.cancelled_at = now
        events.append(_cancelled_event(order, cancelled, "cancelled by the channel"))
    order.status = _status_for(kept)
    order.save()
    if line_changes:
        changes["lines"] = line_changes
    OrderChange.objects.create(
        order=order,
        kind="update",
        changes=changes,
        inbound_message=message,
        correlation_id=correlation_id,
        at=now,
    )
    return events


def _status_for(lines: Sequence[OrderLine]) -> str:
    open_ = sum(line.quantity_open for line in lines)
    shipped = sum(line.quantity_shipped for line in lines)
    if open_ == 0:
        return Order.Status.SHIPPED if shipped else Order.Status.CANCELLED
    return Order.Status.PARTIALLY_SHIPPED if shipped else Order.Status.ACCEPTED


# --- fulfilment -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineRequest:
    """A line of a shipment or cancellation request: by order line id or by SKU."""

    quantity: int
    line_id: int | None = None
    sku: str = ""


def _locked_order(order_id: int) -> tuple[Order, list[OrderLine]]:
    order = Order.objects.select_for_update().select_related("channel").filter(pk=order_id).first()
    if order is None:
        raise NotFound(f"order {order_id} does not exist")
    lines = list(order.lines.select_for_update().order_by("pk"))
    return order, lines


def _allocate_request(
    lines: list[OrderLine], requests: Sequence[LineRequest], verb: str
) -> dict[int, int]:
    """Requested quantities per order line id, checked against what is still open."""
    by_id = {line.pk: line for line in lines}
    wanted: dict[int, int] = {}
    problems: list[FieldError] = []
    for i, req in enumerate(requests):
        path = f"lines[{i}]"
        if req.quantity <= 0:
            problems.append(FieldError(f"{path}.quantity", "must be positive"))
            continue
        if req.line_id is not None:
            if req.line_id not in by_id:
                problems.append(
                    FieldError(f"{path}.line_id", f"line {req.line_id} is not on this order")
                )
                continue
            candidates = [by_id[req.line_id]]
        else:
            candidates = [line for line in lines if line.sku == req.sku]
            if not candidates:
                problems.append(FieldError(f"{path}.sku", f"{req.sku!r} is not on this order"))
                continue
        remaining = req.quantity
        for line in candidates:
            take = min(remaining, line.quantity_open - wanted.get(line.pk, 0))
            if take > 0:
                wanted[line.pk] = wanted.get(line.pk, 0) + take
                remaining -= take
        if remaining:
            left = (
                sum(line.quantity_open for line in candidates)
                - sum(wanted.get(line.pk, 0) for line in candidates)
                + (req.quantity - remaining)
            )
            problems.append(
                FieldError(
                    f"{path}.quantity",
                    f"{req.quantity} to {verb} but only {left} of "
                    f"{req.sku or f'line {req.line_id}'} left open",
                )
            )
    if problems:
        raise BusinessRuleViolation(problems)
    return wanted


def shipment_create(
    *,
    order_id: int,
    location: str,
    lines: Sequence[LineRequest],
    shipped_at: datetime | None = None,
    tracking: str = "",
    external_id: str = "",
    now: datetime | None = None,
) -> tuple[Shipment, bool]:
    """Record goods leaving a location. Returns (shipment, created); a repeated external id
    returns the first shipment and changes nothing."""
    now = now or timezone.now()
    correlation_id = ensure_correlation_id()
    if not location.strip():
        raise BusinessRuleViolation("is required", field="location")
    if not lines:
        raise BusinessRuleViolation("a shipment needs at least one line", field="lines")
    with transaction.atomic():
        order, order_lines = _locked_order(order_id)
        if external_id:
            earlier = Shipment.objects.filter(order=order, external_id=external_id).first()
            if earlier:
                return earlier, False
        if order.status == Order.Status.CANCELLED:
            raise Conflict(f"order {order.pk} is cancelled; nothing can ship")
        wanted = _allocate_request(order_lines, lines, "ship")
        shipment = Shipment.objects.create(
            order=order,
            external_id=external_id[:100],
            location=location[:64],
            shipped_at=shipped_at or now,
            tracking=tracking[:200],
            correlation_id=correlation_id,
            created_at=now,
        )
        ShipmentLine.objects.bulk_create(
            [ShipmentLine(shipment=shipment, line_id=pk, quantity=q) for pk, q in wanted.items()]
        )
        for line in order_lines:
            if line.pk in wanted:
                OrderLine.objects.filter(pk=line.pk).update(
                    quantity_shipped=F("quantity_shipped") + wanted[line.pk]
                )
                line.quantity_shipped += wanted[line.pk]
        order.status = _status_for(order_lines)
        order.updated_at = now
        order.save(update_fields=["status", "updated_at"])
        shipped = [
            {"line_id": line.pk, "sku": line.sku, "quantity": wanted[line.pk]}
            for line in order_lines
            if line.pk in wanted
        ]
        OrderChange.objects.create(
            order=order,
            kind="shipment",
            correlation_id=correlation_id,
            at=now,
            changes={"shipment_id": shipment.pk, "location": shipment.location, "lines": shipped},
        )
        events_record(
            [
                NewEvent(
                    "order.shipped",
                    "order",
                    order.pk,
                    {
                        "order_id": order.pk,
                        "shipment_id": shipment.pk,
                        "location": shipment.location,
                        "shipped_at": shipment.shipped_at,
                        "tracking": shipment.tracking,
                        "lines": shipped,
                        "status": order.status,
                    },
                )
            ],
            correlation_id=correlation_id,
        )
    return shipment, True


def _cancel_open(
    lines: Sequence[OrderLine], wanted: Mapping[int, int] | None = None
) -> list[OrderLine]:
    """Cancel open quantities (all of them, or `wanted` per line id); returns the lines touched,
    each with `quantity_cancelled` set to what this call cancelled on it."""
    touched = []
    for line in lines:
        take = line.quantity_open if wanted is None else wanted.get(line.pk, 0)
        if take <= 0:
            continue
        line.quantity_cancelled += take
        if line.pk:
            OrderLine.objects.filter(pk=line.pk).update(
                quantity_cancelled=F("quantity_cancelled") + take
            )
        delta = OrderLine(pk=line.pk, sku=line.sku, quantity=line.quantity)
        delta.quantity_cancelled = take
        touched.append(delta)
    return touched


def _cancelled_event(order: Order, cancelled: Sequence[OrderLine], reason: str) -> NewEvent:
    return NewEvent(
        "order.cancelled",
        "order",
        order.pk,
        {
            "order_id": order.pk,
            "reason": reason,
            "status": order.status,
            "lines": _line_event_data(cancelled, "quantity_cancelled"),
        },
    )


def order_cancel(
    *,
    order_id: int,
    lines: Sequence[LineRequest] = (),
    reason: str = "",
    now: datetime | None = None,
) -> tuple[Order, list[dict[str, Any]]]:
    """Cancel what has not shipped: the whole rest of the order, or the given quantities.

    Cancelling an order with nothing left open is a conflict (409); cancelling a cancelled
    order again changes nothing.
    """
    now = now or timezone.now()
    correlation_id = ensure_correlation_id()
    with transaction.atomic():
        order, order_lines = _locked_order(order_id)
        if order.status == Order.Status.CANCELLED:
            return order, []
        if not any(line.quantity_open for line in order_lines):
            raise Conflict(f"order {order.pk} has shipped in full; nothing is left to cancel")
        wanted = _allocate_request(order_lines, lines, "cancel") if lines else None
        cancelled = _cancel_open(order_lines, wanted)
        order.status = _status_for(order_lines)
        if order.status in (Order.Status.CANCELLED, Order.Status.SHIPPED):
            order.cancelled_at = now
        order.updated_at = now
        order.save(update_fields=["status", "cancelled_at", "updated_at"])
        data = _line_event_data(cancelled, "quantity_cancelled")
        OrderChange.objects.create(
            order=order,
            kind="cancel",
            correlation_id=correlation_id,
            at=now,
            changes={"reason": reason, "lines": data},
        )
        events_record([_cancelled_event(order, cancelled, reason)], correlation_id=correlation_id)
    return order, data
