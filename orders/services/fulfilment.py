"""Fulfilment of canonical orders: shipments (goods leaving a location) and cancellations of what
has not shipped, by staff or the order's own channel. Each service is one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from retailsync.core.correlation import ensure_correlation_id
from retailsync.core.errors import BusinessRuleViolation, Conflict, FieldError, NotFound
from retailsync.core.events import events_record

from ..events import LineQuantity
from ..models import Order, OrderChange, OrderLine, Shipment, ShipmentLine
from .events import cancelled_event, cancelled_quantities, quantities_data, shipped_event


def status_for(lines: Sequence[OrderLine]) -> str:
    """An order's status from what its lines have shipped and what is left open."""
    open_ = sum(line.quantity_open for line in lines)
    shipped = sum(line.quantity_shipped for line in lines)
    if open_ == 0:
        return Order.Status.SHIPPED if shipped else Order.Status.CANCELLED
    return Order.Status.PARTIALLY_SHIPPED if shipped else Order.Status.ACCEPTED


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
        order.status = status_for(order_lines)
        order.updated_at = now
        order.save(update_fields=["status", "updated_at"])
        shipped = tuple(
            LineQuantity(line.pk, line.sku, wanted[line.pk])
            for line in order_lines
            if line.pk in wanted
        )
        OrderChange.objects.create(
            order=order,
            kind="shipment",
            correlation_id=correlation_id,
            at=now,
            changes={
                "shipment_id": shipment.pk,
                "location": shipment.location,
                "lines": quantities_data(shipped),
            },
        )
        events_record(
            [shipped_event(order, shipment, shipped)], correlation_id=correlation_id, now=now
        )
    return shipment, True


def cancel_open(
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
        cancelled = cancel_open(order_lines, wanted)
        order.status = status_for(order_lines)
        if order.status in (Order.Status.CANCELLED, Order.Status.SHIPPED):
            order.cancelled_at = now
        order.updated_at = now
        order.save(update_fields=["status", "cancelled_at", "updated_at"])
        taken = cancelled_quantities(cancelled)
        data = quantities_data(taken)
        OrderChange.objects.create(
            order=order,
            kind="cancel",
            correlation_id=correlation_id,
            at=now,
            changes={"reason": reason, "lines": data},
        )
        events_record(
            [cancelled_event(order, taken, reason)],
            correlation_id=correlation_id,
            now=now,
        )
    return order, data
