"""Changes to orders we know: a redelivery changes nothing, a stale version is ignored, an update
is applied field by field (lines matched by their channel id) and recorded, and a channel's
cancellation cancels what has not shipped."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from retailsync.core.errors import BusinessRuleViolation, FieldError
from retailsync.core.events import NewEvent
from retailsync.core.models import Channel, InboundMessage

from ..adapters.base import CanonicalOrder
from ..models import (
    DiscountAllocation,
    Order,
    OrderChange,
    OrderFee,
    OrderLine,
    Payment,
    ShippingLine,
    TaxLine,
)
from .events import (
    accepted_events,
    cancelled_event,
    cancelled_quantities,
    quantities_data,
    updated_event,
)
from .fulfilment import cancel_open, status_for
from .outcomes import CREATED, DUPLICATE, REJECTED, UPDATED, IngestOutcome
from .rows import Prepared, details_insert, header_values, line_values, orders_insert


def order_upsert(
    *,
    channel: Channel,
    item: Prepared,
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
        [saved] = orders_insert(
            channel=channel, items=[item], message=message, correlation_id=correlation_id, now=now
        )
        if saved is not None:
            return IngestOutcome(
                item.index, CREATED, saved.order_id, order_status=saved.status
            ), accepted_events(channel, saved, c)
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
    new_header = header_values(c)
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
        values = line_values(c, pos)
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
    details_insert([(order.pk, c, [line.pk for line in kept])])
    for name, value in new_header.items():
        setattr(order, name, value)
    order.content_hash = content
    order.inbound_message = message
    order.updated_at = now
    events = [updated_event(order, {**changes, "lines": line_changes})]
    if c.cancelled and order.status != Order.Status.CANCELLED:
        taken = cancelled_quantities(cancel_open(kept))
        changes["cancelled"] = quantities_data(taken)
        order.cancelled_at = now
        # Recorded before the status below is worked out: the event says the order's status
        # as it was before this update (kept as the wire has always carried it).
        events.append(cancelled_event(order, taken, "cancelled by the channel"))
    order.status = status_for(kept)
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
