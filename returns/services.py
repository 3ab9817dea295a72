"""Every write of a return's lifecycle. Each transition is one transaction, refused with 409
when the state does not allow it (returns/rules.py says which), and recorded with who, when and
the correlation id. What a refund gives back is computed in returns/quote.py, the same figures
finance sees before approving.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from inventory.models import Location
from inventory.services import EventInput, stock_events_apply
from orders.models import Order, OrderLine, Payment, Shipment
from orders.models import TaxLine as OrderTaxLine
from orders.services import orders_ingest
from retailsync.correlation import ensure_correlation_id
from retailsync.errors import BusinessRuleViolation, Conflict, FieldError, NotFound
from retailsync.events import NewEvent, events_record
from retailsync.money import quantize
from retailsync.services import exception_raise

from .models import (
    RefundPayment,
    Return,
    ReturnLine,
    ReturnPolicy,
    ReturnReceipt,
    ReturnTaxReversal,
    ReturnTransition,
)
from .quote import RefundQuote, jurisdiction_of, refund_quote
from .rules import needs_inspection, policy_for, refusal

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


def _allowed(ret: Return, action: str, lines: Sequence[ReturnLine] | None = None) -> None:
    why = refusal(ret, action, list(ret.lines.all()) if lines is None else lines)
    if why:
        raise Conflict(why)


def _move(
    ret: Return,
    to: str,
    actor: Any,
    now: datetime,
    *,
    note: str = "",
    details: Mapping[str, Any] | None = None,
) -> None:
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
        _allowed(ret, "authorize")
        _move(ret, S.AUTHORIZED, actor, now)
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


def _end(ret_id: int, action: str, to: str, actor: Any, note: str, now: datetime) -> Return:
    """Reject or cancel: the return ends, its quantities may be returned again, and the
    timeline says why."""
    if not note.strip():
        raise BusinessRuleViolation(f"say why the return is {to}", field="note")
    with transaction.atomic():
        ret = _locked(ret_id)
        _allowed(ret, action)
        _move(ret, to, actor, now, note=note.strip())
        _release_returnable(ret)
    return ret


def return_reject(
    *, return_id: int, note: str, actor: Any = None, now: datetime | None = None
) -> Return:
    return _end(return_id, "reject", S.REJECTED, actor, note, now or timezone.now())


def return_cancel(
    *, return_id: int, note: str, actor: Any = None, now: datetime | None = None
) -> Return:
    return _end(return_id, "cancel", S.CANCELLED, actor, note, now or timezone.now())


# --- receipt and inspection move stock -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    quantity: int
    line_id: int | None = None  # the order line's id, as a return shows it
    sku: str = ""


def _return_line(
    ret: Return,
    lines: list[ReturnLine],
    line_id: int | None,
    sku: str,
    path: str,
    left: Callable[[ReturnLine], int],
) -> ReturnLine:
    """The return line an input means (by order line id or SKU): of several for the same
    goods, the first with units `left` to act on."""
    matches = [
        line
        for line in lines
        if (line.order_line_id == line_id if line_id is not None else line.order_line.sku == sku)
    ]
    if not matches:
        raise BusinessRuleViolation(
            f"is not a line of return {ret.pk}",
            field=f"{path}.{'line_id' if line_id is not None else 'sku'}",
        )
    return next((line for line in matches if left(line) > 0), matches[0])


def _location(code: str) -> Location:
    location = Location.objects.filter(code=code).first() if code else None
    if location is None:
        raise BusinessRuleViolation(f"unknown location {code!r}", field="location")
    return location


def return_receive(
    *,
    return_id: int,
    location: str,
    lines: Sequence[ReceiptLine] = (),
    actor: Any = None,
    now: datetime | None = None,
) -> Return:
    """Goods arrive at any location (a store, for buy-online-return-in-store), maybe in several
    parcels. Units that need inspection wait on quality hold; the others go back to stock.
    Each parcel is kept with its location, where inspection will find the units."""
    now = now or timezone.now()
    with transaction.atomic():
        ret = _locked(return_id)
        return_lines = list(
            ret.lines.select_related("order_line").select_for_update().order_by("pk")
        )
        _allowed(ret, "receive", return_lines)
        place = _location(location)

        def expected(line: ReturnLine) -> int:
            return line.quantity - line.received

        parcel = (
            [
                (_return_line(ret, return_lines, r.line_id, r.sku, f"lines[{i}]", expected), r)
                for i, r in enumerate(lines)
            ]
            if lines
            else [(line, ReceiptLine(expected(line))) for line in return_lines if expected(line)]
        )
        policy = policy_for(ret.order)
        events: list[EventInput] = []
        received: list[dict[str, Any]] = []
        receipts: list[ReturnReceipt] = []
        for i, (line, r) in enumerate(parcel):
            quantity = r.quantity
            if quantity <= 0 or quantity > expected(line):
                raise BusinessRuleViolation(
                    f"{quantity} received but {expected(line)} of "
                    f"{line.order_line.sku} are expected",
                    field=f"lines[{i}].quantity",
                )
            line.received += quantity
            base = f"rma-{ret.pk}-line-{line.pk}-rcv-{line.received}"
            sku, ref = line.order_line.sku, f"RMA-{ret.pk}"
            events.append(
                EventInput(
                    base, "returns", "return_receipt", sku, location, quantity, now, reference=ref
                )
            )
            inspect = needs_inspection(policy, line.reason)
            if inspect:
                events.append(
                    EventInput(
                        f"{base}-hold",
                        "returns",
                        "quality_hold",
                        sku,
                        location,
                        quantity,
                        now,
                        reference=ref,
                    )
                )
            else:
                line.restocked += quantity
            line.save(update_fields=["received", "restocked"])
            receipts.append(
                ReturnReceipt(
                    line=line,
                    location=place,
                    quantity=quantity,
                    decided=0 if inspect else quantity,
                    at=now,
                )
            )
            received.append(
                {"line_id": line.pk, "sku": sku, "quantity": quantity, "location": location}
            )
        if not received:
            raise BusinessRuleViolation("nothing is left to receive", field="lines")
        ReturnReceipt.objects.bulk_create(receipts)
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
            _move(ret, S.RECEIVED, actor, now, details={"received": received, "location": location})
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
    line_id: int | None = None  # the order line's id, as a return shows it
    sku: str = ""

    @classmethod
    def of(
        cls, counts: Mapping[str, int | None], *, line_id: int | None = None, sku: str = ""
    ) -> Disposition:
        """From counts by disposition name; a name not given counts 0."""
        restock, damaged, hold, scrap, missing = (counts.get(k) or 0 for k in DISPOSITIONS)
        return cls(restock, damaged, hold, scrap, missing, line_id=line_id, sku=sku)

    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in DISPOSITIONS}


def _and(parts: list[str]) -> str:
    return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)


def _inspected_at(
    line: ReturnLine, receipts: list[ReturnReceipt], location: str, n: int, path: str
) -> list[ReturnReceipt]:
    """Where `n` units of the line are inspected: the location given, or the one place its
    units wait. Returns the receipts those units came in, first in first out."""
    waiting: dict[str, int] = {}
    for r in receipts:
        if r.line_id == line.pk and r.waiting:
            waiting[r.location.code] = waiting.get(r.location.code, 0) + r.waiting
    sku = line.order_line.sku
    if not location and len(waiting) > 1:
        places = _and([f"{code} ({k})" for code, k in sorted(waiting.items())])
        raise BusinessRuleViolation(
            f"{sku} waits for inspection at {places}: say which location", field="location"
        )
    where = location or next(iter(waiting), "")
    if waiting.get(where, 0) < n:
        elsewhere = ", ".join(f"{code}: {k}" for code, k in sorted(waiting.items()))
        raise BusinessRuleViolation(
            f"{n} of {sku} to inspect at {where}, but {waiting.get(where, 0)} wait for "
            f"inspection there ({elsewhere or 'none anywhere'})",
            field=f"{path}.quantity",
        )
    taken, out = n, []
    for r in receipts:
        if taken and r.line_id == line.pk and r.location.code == where and r.waiting:
            k = min(taken, r.waiting)
            r.decided += k
            taken -= k
            out.append(r)
    return out


def return_inspect(
    *,
    return_id: int,
    lines: Sequence[Disposition],
    location: str = "",
    actor: Any = None,
    now: datetime | None = None,
) -> Return:
    """Decide received units' fate where they wait; stock follows through the inventory
    service: restock (sellable), damaged, quality hold (to refurbish), scrap (written off),
    missing. Without a location, each line's units are inspected where they were received;
    a location is needed only when they wait in more than one place. The return is inspected
    once no received unit waits any more, so no refund passes a unit still undecided."""
    now = now or timezone.now()
    with transaction.atomic():
        ret = _locked(return_id)
        return_lines = list(
            ret.lines.select_related("order_line").select_for_update().order_by("pk")
        )
        _allowed(ret, "inspect", return_lines)
        if not any(sum(d.counts().values()) for d in lines):
            raise BusinessRuleViolation(
                "an inspection must decide at least one unit", field="lines"
            )
        receipts = list(
            ReturnReceipt.objects.filter(line__ret=ret)
            .select_related("location")
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        events: list[EventInput] = []
        decided: list[dict[str, Any]] = []
        touched: dict[int, ReturnReceipt] = {}
        for i, d in enumerate(lines):
            counts = d.counts()
            n = sum(counts.values())
            if not n:
                continue
            path = f"lines[{i}]"
            line = _return_line(ret, return_lines, d.line_id, d.sku, path, lambda x: x.waiting)
            if any(v < 0 for v in counts.values()) or n > line.waiting:
                raise BusinessRuleViolation(
                    f"{n} units decided but {line.waiting} of "
                    f"{line.order_line.sku} are waiting for inspection",
                    field=path,
                )
            came_in = _inspected_at(line, receipts, location, n, path)
            touched.update({r.pk: r for r in came_in})
            where = came_in[0].location.code
            sku, base = line.order_line.sku, f"rma-{ret.pk}-line-{line.pk}-insp-{line.decided}"
            for kind, k in counts.items():
                if not k:
                    continue
                setattr(line, _FIELD_OF[kind], getattr(line, _FIELD_OF[kind]) + k)
                for step in _STEPS[kind]:
                    events.append(
                        EventInput(
                            f"{base}-{kind}-{step}",
                            "returns",
                            step,
                            sku,
                            where,
                            -k if step == "adjustment" else k,
                            now,
                            reference=f"RMA-{ret.pk}",
                        )
                    )
            line.save(update_fields=list(_FIELD_OF.values()))
            decided.append({**counts, "line_id": line.pk, "sku": sku, "location": where})
        ReturnReceipt.objects.bulk_update(touched.values(), ["decided"])
        _stock(events)
        if ret.status == S.RECEIVED and not any(line.waiting for line in return_lines):
            _move(ret, S.INSPECTED, actor, now, details={"lines": decided})
        else:
            _record(ret, ret.status, actor, note="inspected", now=now, details={"lines": decided})
    return ret


# How each disposition moves the units off the quality hold they have waited on since receipt;
# a unit kept on hold stays there to be refurbished.
_STEPS: dict[str, tuple[str, ...]] = {
    "restock": ("quality_release",),
    "damaged": ("quality_release", "damage"),
    "quality_hold": (),
    "scrap": ("quality_release", "damage", "write_off"),
    "missing": ("quality_release", "adjustment"),
}


# --- refund ---------------------------------------------------------------------------------


def return_refund(
    *,
    return_id: int,
    actor: Any = None,
    method: str = "",
    psp_refund_id: str = "",
    expected_amount: Decimal | None = None,
    now: datetime | None = None,
) -> Return:
    """Refund what policy allows now: after inspection where the reasons need it, else after
    receipt. `expected_amount` is the quote the approver saw: if the figures have changed
    since (another return of the order refunded meanwhile), nothing is refunded. The credit
    memo reaches the ledger through `return.refunded`."""
    now = now or timezone.now()
    with transaction.atomic():
        ret = _locked(return_id)
        if method:
            if method not in Return.Method.values:
                raise BusinessRuleViolation(
                    f"must be one of {', '.join(Return.Method.values)}", field="method"
                )
            ret.refund_method = method
        _allowed(ret, "refund")
        quote = refund_quote(ret)
        if expected_amount is not None:
            seen, c = quantize(expected_amount, ret.currency), ret.currency
            if seen != quote.amount:
                raise Conflict(
                    f"the refund is now {quote.amount} {c}, not the {seen} {c} shown: "
                    "look at it again",
                    field="expected_amount",
                )
        _refund(ret, actor, now, provisional=False, psp_refund_id=psp_refund_id, quote=quote)
    return ret


def _refund(
    ret: Return,
    actor: Any,
    now: datetime,
    *,
    provisional: bool,
    psp_refund_id: str = "",
    amount_override: Decimal | None = None,
    quote: RefundQuote | None = None,
) -> None:
    """Record exactly the quote: per line, per jurisdiction, shipping, fee, and the payment."""
    quote = quote or refund_quote(ret)
    reversals: list[tuple[ReturnLine | None, OrderTaxLine, Decimal]] = []
    for x in quote.lines:
        x.line.amount, x.line.tax, x.line.restocking_fee = x.amount, x.tax, x.fee
        x.line.save(update_fields=["amount", "tax", "restocking_fee"])
        reversals += [(x.line, t, a) for t, a in x.reversals if a]
    reversals += [(None, t, a) for t, a in quote.shipping_reversals]
    ReturnTaxReversal.objects.bulk_create(
        [
            ReturnTaxReversal(
                ret=ret, line=line, tax_line=t, jurisdiction=jurisdiction_of(t), amount=a
            )
            for line, t, a in reversals
        ]
    )
    ret.refund_tax, ret.refund_shipping, ret.restocking_fee = quote.tax, quote.shipping, quote.fee
    ret.refund_amount = quote.amount if amount_override is None else amount_override
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
        "goods": quote.goods,
        "tax": quote.tax,
        "shipping": quote.shipping,
        "restocking_fee": quote.fee,
        "exchange_credit": quote.exchange_credit,
        "exchange_due": quote.exchange_due,
        "method": ret.refund_method,
        "provisional": provisional,
    }
    _move(ret, S.REFUNDED, actor, now, details=details)
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
                        for x in quote.lines
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
        _allowed(ret, "close")
        _move(ret, S.CLOSED, actor, now)
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


# --- refunds the channel reports (Shopify refunds/create) -----------------------------------


@dataclass(frozen=True, slots=True)
class ChannelRefund:
    external_id: str
    order_external_id: str
    amount: Decimal
    lines: list[tuple[str, int]]  # (order line external id, quantity)
    restock: bool
    psp_refund_id: str
    note: str = ""


def channel_refund_record(
    *, channel_code: str, refund: ChannelRefund, now: datetime | None = None
) -> tuple[Return, bool]:
    """Link a refund the channel made to its return, or open one for it; once per refund id.

    Returns (the return, whether this refund was new to us). The money is the channel's: what it reports is what was
    refunded; a difference from our own computation is an exception for finance, not a change.
    """
    now = now or timezone.now()
    existing = Return.objects.filter(
        channel__code=channel_code, external_id=refund.external_id
    ).first()
    if existing is not None:
        return existing, False
    order = Order.objects.filter(
        channel__code=channel_code, external_id=refund.order_external_id
    ).first()
    if order is None:
        raise BusinessRuleViolation(
            f"order {refund.order_external_id} is not known", field="order_id"
        )
    by_external = {line.external_id: line for line in order.lines.all()}
    wanted = {by_external[e].pk: q for e, q in refund.lines if e in by_external}
    if len(wanted) != len(refund.lines):
        raise BusinessRuleViolation("a refunded line is not on the order", field="lines")
    with transaction.atomic():
        ret = (
            Return.objects.select_for_update()
            .filter(
                order=order,
                status__in=[S.REQUESTED, S.AUTHORIZED, S.RECEIVED, S.INSPECTED],
                external_id="",
            )
            .order_by("pk")
            .first()
        )
        if ret is not None and {x.order_line_id: x.quantity for x in ret.lines.all()} != wanted:
            ret = None  # an open return for other goods: this refund is another one
        if ret is None:
            ret = return_request(
                order_id=order.pk,
                now=now,
                external_id=refund.external_id,
                lines=[
                    LineInput(quantity=q, line_id=pk, reason="channel_refund")
                    for pk, q in wanted.items()
                ],
            )
        ret.external_id = refund.external_id
        ret.save(update_fields=["external_id"])
        ours = refund_quote(ret).total
        _refund(
            ret,
            None,
            now,
            provisional=False,
            psp_refund_id=refund.psp_refund_id,
            amount_override=refund.amount,
        )
        if abs(ours - refund.amount) > Decimal("0.01"):
            exception_raise(
                kind="refund_mismatch",
                reason=f"{channel_code} refunded {refund.amount} on order "
                f"{refund.order_external_id}; the order's own figures give {ours}",
                details={"return_id": ret.pk, "channel_amount": refund.amount, "ours": ours},
                object_type="return",
                object_id=ret.pk,
                object_label=f"RMA-{ret.pk}",
                now=now,
            )
    return ret, True
