"""Every write of a return's lifecycle. Each transition is one transaction, refused with 409
when the state does not allow it, and recorded with who, when and the correlation id.

Refunds are computed from the original order: a line's share of what was paid (net of its
discounts) and of each tax line, split cumulatively (refunding units r+1..r+q of n costs
share(r+q) − share(r)), so all partial returns of a line add up to exactly what it cost and a
later return can never refund a cent more than the remainder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Max, Sum
from django.utils import timezone

from inventory.services import EventInput, stock_events_apply
from orders.models import Order, OrderLine, Payment, Shipment
from orders.models import TaxLine as OrderTaxLine
from orders.services import orders_ingest
from retailsync.correlation import ensure_correlation_id
from retailsync.errors import BusinessRuleViolation, Conflict, FieldError, NotFound
from retailsync.events import NewEvent, events_record
from retailsync.money import quantize

from .models import (
    RefundPayment,
    Return,
    ReturnLine,
    ReturnPolicy,
    ReturnTaxReversal,
    ReturnTransition,
)

S = Return.Status
ZERO = Decimal(0)
OPEN_STATUSES = (S.REQUESTED, S.AUTHORIZED, S.RECEIVED, S.INSPECTED, S.REFUNDED)
DISPOSITIONS = ("restock", "damaged", "quality_hold", "scrap", "missing")
_FIELD_OF = {
    "restock": "restocked",
    "damaged": "damaged",
    "quality_hold": "held",
    "scrap": "scrapped",
    "missing": "missing",
}


def policy_for(order: Order) -> ReturnPolicy:
    """The channel's policy, or the defaults: 30 days, inspect before refund, no fee, shipping
    refunded only when the whole order comes back."""
    return ReturnPolicy.objects.filter(channel_id=order.channel_id).first() or ReturnPolicy(
        channel_id=order.channel_id
    )


def needs_inspection(policy: ReturnPolicy, reason: str) -> bool:
    if reason in policy.no_inspection_reasons:
        return False
    return not policy.inspect_reasons or reason in policy.inspect_reasons


@dataclass(frozen=True, slots=True)
class LineInput:
    quantity: int
    reason: str
    line_id: int | None = None
    sku: str = ""
    comment: str = ""
    replacement_sku: str = ""


def _record(
    ret: Return,
    to: str,
    actor: Any,
    *,
    note: str = "",
    details: Mapping[str, Any] | None = None,
    now: datetime,
    from_status: str | None = None,
) -> None:
    person = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    ReturnTransition.objects.create(
        ret=ret,
        from_status=ret.status if from_status is None else from_status,
        to_status=to,
        actor=person,
        actor_name=person.get_username() if person else "system",
        note=note,
        details=dict(details or {}),
        at=now,
        correlation_id=ensure_correlation_id(),
    )


def _locked(return_id: int) -> Return:
    ret = (
        Return.objects.select_for_update()
        .select_related("order", "channel")
        .filter(pk=return_id)
        .first()
    )
    if ret is None:
        raise NotFound(f"return {return_id} does not exist")
    return ret


def _move(
    ret: Return,
    to: str,
    allowed_from: Sequence[str],
    actor: Any,
    now: datetime,
    *,
    note: str = "",
    details: Mapping[str, Any] | None = None,
) -> None:
    if ret.status not in allowed_from:
        raise Conflict(f"a {ret.status} return cannot be {to}")
    _record(ret, to, actor, note=note, details=details, now=now)
    ret.status = to
    ret.updated_at = now
    ret.save(update_fields=["status", "updated_at"])


# --- request --------------------------------------------------------------------------------


def return_request(
    *,
    order_id: int,
    lines: Sequence[LineInput],
    actor: Any = None,
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
        policy = policy_for(order)
        wanted = _resolve_lines(order, order_lines, lines, policy, now)
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
            with transaction.atomic():
                for line, req in wanted:
                    OrderLine.objects.filter(pk=line.pk).update(
                        quantity_returned=F("quantity_returned") + req.quantity
                    )
        except IntegrityError:
            raise BusinessRuleViolation(
                "more would be returned than was shipped", field="lines"
            ) from None
    return ret


def return_new(
    *, order: Order, refund_method: str, external_id: str, actor: Any, now: datetime
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
    _record(ret, S.REQUESTED, actor, now=now, from_status="")
    return ret


def _resolve_lines(
    order: Order,
    order_lines: list[OrderLine],
    lines: Sequence[LineInput],
    policy: ReturnPolicy,
    now: datetime,
) -> list[tuple[OrderLine, LineInput]]:
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
    return wanted


# --- authorize, reject, cancel ------------------------------------------------------------


def return_authorize(*, return_id: int, actor: Any = None, now: datetime | None = None) -> Return:
    """Authorize; an exchange gets its replacement order now, and trusted reasons may be
    refunded at once, provisionally until the goods arrive."""
    now = now or timezone.now()
    with transaction.atomic():
        ret = _locked(return_id)
        _move(ret, S.AUTHORIZED, [S.REQUESTED], actor, now)
        _exchange_order(ret, now)
        policy = policy_for(ret.order)
        lines = list(ret.lines.all())
        if policy.refund_on_authorization_reasons and all(
            line.reason in policy.refund_on_authorization_reasons for line in lines
        ):
            _refund(ret, actor, now, provisional=True)
    return ret


def _release_returnable(ret: Return) -> None:
    for line in ret.lines.all():
        OrderLine.objects.filter(pk=line.order_line_id).update(
            quantity_returned=F("quantity_returned") - line.quantity
        )


def return_reject(
    *, return_id: int, actor: Any = None, note: str = "", now: datetime | None = None
) -> Return:
    now = now or timezone.now()
    with transaction.atomic():
        ret = _locked(return_id)
        _move(ret, S.REJECTED, [S.REQUESTED, S.AUTHORIZED], actor, now, note=note)
        _release_returnable(ret)
    return ret


def return_cancel(
    *, return_id: int, actor: Any = None, note: str = "", now: datetime | None = None
) -> Return:
    now = now or timezone.now()
    with transaction.atomic():
        ret = _locked(return_id)
        if ret.lines.filter(received__gt=0).exists():
            raise Conflict("goods of this return have arrived; it cannot be cancelled")
        _move(ret, S.CANCELLED, [S.REQUESTED, S.AUTHORIZED], actor, now, note=note)
        _release_returnable(ret)
    return ret


# --- receipt and inspection move stock -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    quantity: int
    line_id: int | None = None
    sku: str = ""


def _return_line(
    ret: Return, lines: list[ReturnLine], line_id: int | None, sku: str, path: str
) -> ReturnLine:
    for line in lines:
        if (line_id is not None and line.pk == line_id) or (
            line_id is None and line.order_line.sku == sku
        ):
            return line
    raise BusinessRuleViolation(
        f"is not a line of return {ret.pk}", field=f"{path}.{'line_id' if line_id else 'sku'}"
    )


def return_receive(
    *,
    return_id: int,
    location: str,
    lines: Sequence[ReceiptLine] = (),
    actor: Any = None,
    now: datetime | None = None,
) -> Return:
    """Goods arrive at any location (a store, for buy-online-return-in-store), maybe in several
    parcels. Units that need inspection wait on quality hold; the others go back to stock."""
    now = now or timezone.now()
    with transaction.atomic():
        ret = _locked(return_id)
        allowed = [S.AUTHORIZED, S.RECEIVED]
        if ret.status == S.REFUNDED and ret.refund_provisional:
            allowed.append(S.REFUNDED)
        if ret.status not in allowed:
            raise Conflict(f"a {ret.status} return cannot be received")
        return_lines = list(ret.lines.select_related("order_line").select_for_update())
        parcel = (
            [
                (_return_line(ret, return_lines, r.line_id, r.sku, f"lines[{i}]"), r.quantity)
                for i, r in enumerate(lines)
            ]
            if lines
            else [
                (line, line.quantity - line.received)
                for line in return_lines
                if line.quantity > line.received
            ]
        )
        policy = policy_for(ret.order)
        events: list[EventInput] = []
        received: list[dict[str, Any]] = []
        for i, (line, quantity) in enumerate(parcel):
            if quantity <= 0 or line.received + quantity > line.quantity:
                raise BusinessRuleViolation(
                    f"{quantity} received but {line.quantity - line.received} of "
                    f"{line.order_line.sku} are expected",
                    field=f"lines[{i}].quantity",
                )
            line.received += quantity
            base = f"rma-{ret.pk}-line-{line.pk}-rcv-{line.received}"
            events.append(
                EventInput(
                    f"{base}",
                    "returns",
                    "return_receipt",
                    line.order_line.sku,
                    location,
                    quantity,
                    now,
                    reference=f"RMA-{ret.pk}",
                )
            )
            if needs_inspection(policy, line.reason):
                events.append(
                    EventInput(
                        f"{base}-hold",
                        "returns",
                        "quality_hold",
                        line.order_line.sku,
                        location,
                        quantity,
                        now,
                        reference=f"RMA-{ret.pk}",
                    )
                )
            else:
                line.restocked += quantity
            line.save(update_fields=["received", "restocked"])
            received.append(
                {
                    "line_id": line.pk,
                    "sku": line.order_line.sku,
                    "quantity": quantity,
                    "location": location,
                }
            )
        if not received:
            raise BusinessRuleViolation("nothing is left to receive", field="lines")
        _stock(events)
        if ret.status == S.REFUNDED:
            _record(
                ret,
                S.REFUNDED,
                actor,
                note="goods received",
                now=now,
                details={"received": received},
            )
            if all(line.received == line.quantity for line in return_lines):
                ret.refund_provisional = False
                ret.refunds.filter(status=RefundPayment.Status.PROVISIONAL).update(
                    status=RefundPayment.Status.DONE
                )
                ret.save(update_fields=["refund_provisional"])
        else:
            _move(
                ret,
                S.RECEIVED,
                allowed,
                actor,
                now,
                details={"received": received, "location": location},
            )
        events_record(
            [
                NewEvent(
                    "return.received",
                    "return",
                    ret.pk,
                    {
                        "return_id": ret.pk,
                        "order_id": ret.order_id,
                        "location": location,
                        "lines": received,
                    },
                )
            ],
            correlation_id=ret.correlation_id,
        )
    return ret


def _stock(events: list[EventInput]) -> None:
    if not events:
        return
    try:
        stock_events_apply(events=events)
    except BusinessRuleViolation as exc:
        raise BusinessRuleViolation(
            [FieldError("location", f"stock could not follow: {e.message}") for e in exc.errors]
        ) from None


@dataclass(frozen=True, slots=True)
class Disposition:
    restock: int = 0
    damaged: int = 0
    quality_hold: int = 0
    scrap: int = 0
    missing: int = 0
    line_id: int | None = None
    sku: str = ""


def return_inspect(
    *,
    return_id: int,
    location: str,
    lines: Sequence[Disposition],
    actor: Any = None,
    now: datetime | None = None,
) -> Return:
    """Decide each received unit's fate; stock follows through the inventory service:
    restock (sellable), damaged, quality hold (to refurbish), scrap (written off), missing."""
    now = now or timezone.now()
    with transaction.atomic():
        ret = _locked(return_id)
        if ret.status not in (S.RECEIVED, S.REFUNDED):
            raise Conflict(f"a {ret.status} return cannot be inspected")
        return_lines = list(ret.lines.select_related("order_line").select_for_update())
        events: list[EventInput] = []
        for i, d in enumerate(lines):
            line = _return_line(ret, return_lines, d.line_id, d.sku, f"lines[{i}]")
            counts = {k: getattr(d, k) for k in DISPOSITIONS}
            decided = line.restocked + line.damaged + line.held + line.scrapped + line.missing
            waiting = line.received - decided
            if any(v < 0 for v in counts.values()) or sum(counts.values()) > waiting:
                raise BusinessRuleViolation(
                    f"{sum(counts.values())} units decided but {waiting} of "
                    f"{line.order_line.sku} are waiting for inspection",
                    field=f"lines[{i}]",
                )
            sku, base = line.order_line.sku, f"rma-{ret.pk}-line-{line.pk}-insp-{decided}"
            for kind, n in counts.items():
                if not n:
                    continue
                setattr(line, _FIELD_OF[kind], getattr(line, _FIELD_OF[kind]) + n)
                if kind == "quality_hold":
                    continue  # already held since receipt: it stays there to be refurbished
                steps = {
                    "restock": ["quality_release"],
                    "damaged": ["quality_release", "damage"],
                    "scrap": ["quality_release", "damage", "write_off"],
                    "missing": ["quality_release", "adjustment"],
                }[kind]
                for step in steps:
                    events.append(
                        EventInput(
                            f"{base}-{kind}-{step}",
                            "returns",
                            step,
                            sku,
                            location,
                            -n if step == "adjustment" else n,
                            now,
                            reference=f"RMA-{ret.pk}",
                        )
                    )
            line.save(update_fields=list(_FIELD_OF.values()))
        _stock(events)
        if ret.status == S.RECEIVED:
            _move(
                ret,
                S.INSPECTED,
                [S.RECEIVED],
                actor,
                now,
                details={"lines": [vars_of(d) for d in lines]},
            )
        else:
            _record(
                ret,
                ret.status,
                actor,
                note="inspected",
                now=now,
                details={"lines": [vars_of(d) for d in lines]},
            )
    return ret


def vars_of(d: Disposition) -> dict[str, Any]:
    return {k: getattr(d, k) for k in (*DISPOSITIONS, "line_id", "sku")}


# --- refund ---------------------------------------------------------------------------------


def _share(total: Decimal, k: int, n: int, currency: str) -> Decimal:
    return quantize(total * k / n, currency) if n else ZERO


@dataclass(frozen=True, slots=True)
class LineRefund:
    line: ReturnLine
    amount: Decimal  # goods, net of discount, tax excluded
    tax: Decimal
    fee: Decimal
    reversals: list[tuple[OrderTaxLine, Decimal]]


def refund_quote(ret: Return) -> tuple[list[LineRefund], Decimal, Decimal]:
    """What this return gives back, per line, plus shipping and its tax, from the order."""
    order, currency = ret.order, ret.currency
    policy = policy_for(order)
    earlier = dict(
        ReturnLine.objects.filter(order_line__order=order, ret__status__in=[S.REFUNDED, S.CLOSED])
        .exclude(ret=ret)
        .values("order_line_id")
        .annotate(n=Sum("quantity"))
        .values_list("order_line_id", "n")
    )
    taxes: dict[int, list[OrderTaxLine]] = {}
    for t in OrderTaxLine.objects.filter(order=order).order_by("pk"):
        taxes.setdefault(t.line_id or 0, []).append(t)
    out = []
    for line in ret.lines.select_related("order_line"):
        ol, q = line.order_line, line.quantity
        r = earlier.get(ol.pk, 0)
        paid = ol.unit_price * ol.quantity - ol.discount
        goods = _share(paid, r + q, ol.quantity, currency) - _share(paid, r, ol.quantity, currency)
        reversals = [
            (
                t,
                _share(t.amount, r + q, ol.quantity, currency)
                - _share(t.amount, r, ol.quantity, currency),
            )
            for t in taxes.get(ol.pk, [])
        ]
        tax = sum((a for _, a in reversals), ZERO)
        net = goods - tax if order.prices_include_tax else goods
        percent = Decimal(str(policy.restocking_fee_percent.get(line.reason, 0)))
        fee = quantize(net * percent / 100, currency)
        out.append(LineRefund(line, net, tax, fee, reversals))
    shipping, shipping_tax = _shipping_refund(ret, policy, out)
    return out, shipping, shipping_tax


def _shipping_refund(
    ret: Return, policy: ReturnPolicy, lines: list[LineRefund]
) -> tuple[Decimal, Decimal]:
    order = ret.order
    already = (
        Return.objects.filter(order=order, status__in=[S.REFUNDED, S.CLOSED], refund_shipping__gt=0)
        .exclude(pk=ret.pk)
        .exists()
    )
    if already:
        return ZERO, ZERO
    returned = sum(
        ReturnLine.objects.filter(order_line__order=order, ret__status__in=[S.REFUNDED, S.CLOSED])
        .exclude(ret=ret)
        .values_list("quantity", flat=True)
    ) + sum(x.line.quantity for x in lines)
    whole = returned >= sum(order.lines.values_list("quantity", flat=True))
    if not (policy.refund_shipping or whole):
        return ZERO, ZERO
    ships = list(order.shipping_lines.all())
    amount = sum((s.amount - s.discount for s in ships), ZERO)
    tax = sum(
        (
            t.amount
            for t in OrderTaxLine.objects.filter(order=order, target=OrderTaxLine.Target.SHIPPING)
        ),
        ZERO,
    )
    return (amount - tax if order.prices_include_tax else amount), tax


def return_refund(
    *,
    return_id: int,
    actor: Any = None,
    method: str = "",
    psp_refund_id: str = "",
    now: datetime | None = None,
) -> Return:
    """Refund what policy allows now: after inspection where the reasons need it, else after
    receipt. The credit memo reaches the ledger through `return.refunded`."""
    now = now or timezone.now()
    with transaction.atomic():
        ret = _locked(return_id)
        if method:
            if method not in Return.Method.values:
                raise BusinessRuleViolation(
                    f"must be one of {', '.join(Return.Method.values)}", field="method"
                )
            ret.refund_method = method
        policy = policy_for(ret.order)
        lines = list(ret.lines.all())
        inspect = any(needs_inspection(policy, line.reason) for line in lines)
        allowed = [S.INSPECTED] if inspect else [S.RECEIVED, S.INSPECTED]
        if ret.status not in allowed:
            why = "it must be inspected first" if inspect and ret.status == S.RECEIVED else ""
            raise Conflict(
                f"a {ret.status} return cannot be refunded" + (f": {why}" if why else "")
            )
        _refund(ret, actor, now, provisional=False, psp_refund_id=psp_refund_id)
    return ret


def _refund(
    ret: Return,
    actor: Any,
    now: datetime,
    *,
    provisional: bool,
    psp_refund_id: str = "",
    amount_override: Decimal | None = None,
) -> None:
    lines, shipping, shipping_tax = refund_quote(ret)
    for x in lines:
        x.line.amount, x.line.tax, x.line.restocking_fee = x.amount, x.tax, x.fee
        x.line.save(update_fields=["amount", "tax", "restocking_fee"])
        ReturnTaxReversal.objects.bulk_create(
            [
                ReturnTaxReversal(
                    ret=ret,
                    line=x.line,
                    tax_line=t,
                    jurisdiction=t.jurisdiction or t.title,
                    amount=a,
                )
                for t, a in x.reversals
                if a
            ]
        )
    ReturnTaxReversal.objects.bulk_create(
        [
            ReturnTaxReversal(
                ret=ret, tax_line=t, jurisdiction=t.jurisdiction or t.title, amount=t.amount
            )
            for t in OrderTaxLine.objects.filter(
                order=ret.order, target=OrderTaxLine.Target.SHIPPING
            )
            if shipping_tax
        ]
    )
    goods = sum((x.amount for x in lines), ZERO)
    tax = sum((x.tax for x in lines), ZERO) + shipping_tax
    fee = sum((x.fee for x in lines), ZERO)
    total = goods + tax + shipping - fee
    credit = _exchange_credit(ret)
    ret.refund_tax, ret.refund_shipping, ret.restocking_fee = tax, shipping, fee
    ret.refund_amount = max(total - credit, ZERO) if amount_override is None else amount_override
    ret.refund_provisional = provisional
    payment = (
        (
            Payment.objects.filter(order=ret.order)
            .exclude(kind="gift_card")
            .order_by("-amount", "pk")
            .first()
        )
        if ret.refund_method == "original"
        else None
    )
    if ret.refund_amount:
        RefundPayment.objects.create(
            ret=ret,
            method=ret.refund_method,
            payment=payment,
            gateway=payment.gateway if payment else ret.refund_method,
            psp_refund_id=psp_refund_id[:200],
            currency=ret.currency,
            amount=ret.refund_amount,
            status=RefundPayment.Status.PROVISIONAL if provisional else RefundPayment.Status.DONE,
            created_at=now,
        )
    details = {
        "amount": ret.refund_amount,
        "goods": goods,
        "tax": tax,
        "shipping": shipping,
        "restocking_fee": fee,
        "exchange_credit": credit,
        # A dearer replacement: what the customer still owes on the exchange order.
        "exchange_due": max(credit - total, ZERO),
        "method": ret.refund_method,
        "provisional": provisional,
    }
    _move(ret, S.REFUNDED, [ret.status], actor, now, details=details)
    ret.save()
    events_record(
        [
            NewEvent(
                "return.refunded",
                "return",
                ret.pk,
                {
                    "return_id": ret.pk,
                    "order_id": ret.order_id,
                    "channel": ret.channel.code,
                    "currency": ret.currency,
                    **details,
                    "liability": ret.refund_method in ("store_credit", "gift_card"),
                    "tax_reversals": [
                        {
                            "tax_line_id": r.tax_line_id,
                            "jurisdiction": r.jurisdiction,
                            "amount": r.amount,
                        }
                        for r in ret.tax_reversals.all()
                    ],
                    "lines": [
                        {
                            "order_line_id": x.line.order_line_id,
                            "quantity": x.line.quantity,
                            "amount": x.amount,
                            "tax": x.tax,
                            "restocking_fee": x.fee,
                        }
                        for x in lines
                    ],
                },
            )
        ],
        correlation_id=ret.correlation_id,
    )


def return_close(*, return_id: int, actor: Any = None, now: datetime | None = None) -> Return:
    """Financially complete: refunded for good (not provisionally), every unit received."""
    now = now or timezone.now()
    with transaction.atomic():
        ret = _locked(return_id)
        if ret.status == S.REFUNDED and ret.refund_provisional:
            raise Conflict("the refund is provisional until the goods are received")
        _move(ret, S.CLOSED, [S.REFUNDED], actor, now)
        events_record(
            [
                NewEvent(
                    "return.closed",
                    "return",
                    ret.pk,
                    {
                        "return_id": ret.pk,
                        "order_id": ret.order_id,
                        "channel": ret.channel.code,
                        "currency": ret.currency,
                        "refund_amount": ret.refund_amount,
                        "refund_tax": ret.refund_tax,
                        "refund_shipping": ret.refund_shipping,
                        "restocking_fee": ret.restocking_fee,
                        "method": ret.refund_method,
                    },
                )
            ],
            correlation_id=ret.correlation_id,
        )
    return ret


# --- exchanges ------------------------------------------------------------------------------


def _exchange_order(ret: Return, now: datetime) -> None:
    """A replacement becomes a new canonical order on the same channel, linked to the return,
    priced like the line it replaces; the return's credit pays for it."""
    lines = [line for line in ret.lines.select_related("order_line") if line.replacement_sku]
    if not lines or ret.exchange_order_id:
        return
    currency = ret.currency
    payload = {
        "external_id": f"RMA-{ret.pk}-EXCHANGE",
        "order_number": f"RMA-{ret.pk}-X",
        "currency": currency,
        "placed_at": now.isoformat(),
        "fulfilment_location": ret.order.fulfilment_location,
        "lines": [
            {
                "sku": line.replacement_sku,
                "quantity": line.quantity,
                "unit_price": str(line.order_line.unit_price),
                "discount": "0",
                "tax": "0",
            }
            for line in lines
        ],
        "payments": [],
        "exchange_for_return": ret.pk,
    }
    # An exchange is our own order, written in our own format whatever the channel speaks.
    [outcome] = orders_ingest(
        channel=ret.channel, payloads=[payload], headers={}, source="canonical"
    )
    if outcome.order_id is None:
        raise BusinessRuleViolation(
            [FieldError(f"exchange.{e.field}", e.message) for e in outcome.errors]
        )
    ret.exchange_order_id = outcome.order_id
    ret.save(update_fields=["exchange_order"])


def _exchange_credit(ret: Return) -> Decimal:
    if not ret.exchange_order_id:
        return ZERO
    total = Order.objects.filter(pk=ret.exchange_order_id).values_list("total", flat=True).get()
    return quantize(total, ret.currency)
