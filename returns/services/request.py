"""Opening a return: which lines of the order, how many units, why. What it takes is taken at
once from the order's returnable units, through the orders service that holds the invariant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from orders.lines import ReturnedBeyondShipped, order_lines_returned_add
from orders.models import Order, OrderLine, Shipment
from retailsync.core.correlation import ensure_correlation_id
from retailsync.core.errors import BusinessRuleViolation, FieldError

from ..models import Return, ReturnLine, ReturnPolicy
from ..rules import policy_for
from .transitions import Actor, timeline_record


@dataclass(frozen=True, slots=True)
class LineInput:
    quantity: int
    reason: str
    line_id: int | None = None
    sku: str = ""
    comment: str = ""
    replacement_sku: str = ""


def return_request(
    *,
    order_id: int,
    lines: Sequence[LineInput],
    actor: Actor = None,
    refund_method: str = Return.Method.ORIGINAL,
    external_id: str = "",
    now: datetime | None = None,
) -> Return:
    """Open a return. The returnable quantity is taken at once (under the order lines' locks and
    a database constraint), so concurrent returns can never exceed what shipped."""
    now = now or timezone.now()
    if refund_method not in Return.Method.values:
        raise BusinessRuleViolation(
            f"must be one of {', '.join(Return.Method.values)}", field="refund_method"
        )
    with transaction.atomic():
        order = Order.objects.select_related("channel").filter(pk=order_id).first()
        if order is None:
            raise BusinessRuleViolation(f"order {order_id} does not exist", field="order")
        order_lines = list(order.lines.select_for_update().order_by("pk"))
        wanted, taken = _resolve_lines(order, order_lines, lines, policy_for(order), now=now)
        ret = return_new(
            order=order, refund_method=refund_method, external_id=external_id, actor=actor, now=now
        )
        ReturnLine.objects.bulk_create(
            [
                ReturnLine(
                    ret=ret,
                    order_line=line,
                    quantity=req.quantity,
                    reason=req.reason[:40],
                    comment=req.comment,
                    replacement_sku=req.replacement_sku[:100],
                )
                for line, req in wanted
            ]
        )
        try:
            order_lines_returned_add(quantities=taken)
        except ReturnedBeyondShipped as exc:
            raise BusinessRuleViolation(
                [FieldError("lines", e.message) for e in exc.errors]
            ) from None
    return ret


def return_new(
    *, order: Order, refund_method: str, external_id: str, actor: Actor, now: datetime
) -> Return:
    """A requested return with no lines yet (call in a transaction)."""
    ret = Return(
        order=order,
        channel=order.channel,
        currency=order.currency,
        refund_method=refund_method,
        external_id=external_id,
        created_at=now,
        updated_at=now,
        correlation_id=ensure_correlation_id(),
    )
    ret.save()
    timeline_record(ret, Return.Status.REQUESTED, actor, now=now, from_status="")
    return ret


def _resolve_lines(
    order: Order,
    order_lines: list[OrderLine],
    lines: Sequence[LineInput],
    policy: ReturnPolicy,
    *,
    now: datetime,
) -> tuple[list[tuple[OrderLine, LineInput]], dict[int, int]]:
    """The order line each input means, checked against what is left to return and the return
    window; and the units taken per order line."""
    by_id = {line.pk: line for line in order_lines}
    shipped_at = dict(
        Shipment.objects.filter(order=order)
        .values("lines__line_id")
        .annotate(last=Max("shipped_at"))
        .values_list("lines__line_id", "last")
    )
    problems: list[FieldError] = []
    wanted: list[tuple[OrderLine, LineInput]] = []
    taken: dict[int, int] = {}
    if not lines:
        raise BusinessRuleViolation("a return needs at least one line", field="lines")
    for i, req in enumerate(lines):
        path = f"lines[{i}]"
        line = (
            by_id.get(req.line_id)
            if req.line_id is not None
            else next(
                (
                    x
                    for x in order_lines
                    if x.sku == req.sku
                    and x.quantity_shipped - x.quantity_returned - taken.get(x.pk, 0) > 0
                ),
                None,
            )
            or next((x for x in order_lines if x.sku == req.sku), None)
        )
        if line is None:
            problems.append(
                FieldError(
                    f"{path}.{'line_id' if req.line_id else 'sku'}", "is not a line of this order"
                )
            )
            continue
        if req.quantity <= 0:
            problems.append(FieldError(f"{path}.quantity", "must be positive"))
            continue
        if not req.reason.strip():
            problems.append(FieldError(f"{path}.reason", "is required"))
        left = line.quantity_shipped - line.quantity_returned - taken.get(line.pk, 0)
        if req.quantity > left:
            problems.append(
                FieldError(
                    f"{path}.quantity",
                    f"{req.quantity} of {line.sku} to return but only {left} shipped and not "
                    f"returned yet",
                )
            )
            continue
        last = shipped_at.get(line.pk)
        if last is not None and now > last + timedelta(days=policy.window_days):
            problems.append(
                FieldError(
                    f"{path}.quantity",
                    f"{line.sku} shipped {last:%Y-%m-%d}: the {policy.window_days}-day return "
                    f"window has closed",
                )
            )
            continue
        taken[line.pk] = taken.get(line.pk, 0) + req.quantity
        wanted.append((line, req))
    if problems:
        raise BusinessRuleViolation(problems)
    return wanted, taken
