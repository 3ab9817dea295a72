"""The money end of a return: the refund, recorded exactly as returns/quote.py computes it (the
figures finance saw), and the close once the return is financially complete. The ledger learns
of both through their events, `return.refunded` and `return.closed`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TypedDict

from django.db import transaction
from django.utils import timezone

from orders.models import Payment
from orders.models import TaxLine as OrderTaxLine
from retailsync.core.contracts import contract_event
from retailsync.core.errors import BusinessRuleViolation, Conflict
from retailsync.core.events import NewEvent, events_record
from retailsync.core.money import quantize

from ..events import RefundedLine, ReturnClosed, ReturnRefunded, TaxReversal
from ..models import RefundPayment, Return, ReturnLine, ReturnTaxReversal
from ..quote import RefundQuote, jurisdiction_of, refund_quote
from .transitions import Actor, return_locked, return_move, step_check


def return_refund(
    *,
    return_id: int,
    actor: Actor = None,
    method: str = "",
    psp_refund_id: str = "",
    expected_amount: Decimal | None = None,
    now: datetime | None = None,
) -> Return:
    """Refund what policy allows now: after inspection where the reasons need it, else after
    receipt. `expected_amount` is the quote the approver saw: if the figures have changed
    since (another return of the order refunded meanwhile), nothing is refunded."""
    now = now or timezone.now()
    with transaction.atomic():
        ret = return_locked(return_id)
        if method:
            if method not in Return.Method.values:
                raise BusinessRuleViolation(
                    f"must be one of {', '.join(Return.Method.values)}", field="method"
                )
            ret.refund_method = method
        step_check(ret, "refund")
        quote = refund_quote(ret)
        if expected_amount is not None:
            seen, c = quantize(expected_amount, ret.currency), ret.currency
            if seen != quote.amount:
                raise Conflict(
                    f"the refund is now {quote.amount} {c}, not the {seen} {c} shown: "
                    "look at it again",
                    field="expected_amount",
                )
        refund_record(
            ret,
            "refund",
            actor,
            now=now,
            provisional=False,
            psp_refund_id=psp_refund_id,
            quote=quote,
        )
    return ret


def refund_record(
    ret: Return,
    action: str,
    actor: Actor,
    *,
    now: datetime,
    provisional: bool,
    psp_refund_id: str = "",
    amount_override: Decimal | None = None,
    quote: RefundQuote | None = None,
) -> None:
    """Record exactly the quote: per line, per jurisdiction, shipping, fee, and the payment;
    the return moves on `action` (a person's refund, or one of the system's). In the caller's
    transaction."""
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
    refunded = ReturnRefunded(
        **_whose(ret),
        amount=ret.refund_amount,
        goods=quote.goods,
        tax=quote.tax,
        shipping=quote.shipping,
        restocking_fee=quote.fee,
        exchange_credit=quote.exchange_credit,
        exchange_due=quote.exchange_due,
        method=ret.refund_method,
        provisional=provisional,
        liability=ret.refund_method in ("store_credit", "gift_card"),
        tax_reversals=tuple(
            TaxReversal(r.tax_line_id, r.jurisdiction, r.amount) for r in ret.tax_reversals.all()
        ),
        lines=tuple(
            RefundedLine(x.line.order_line_id, x.line.quantity, x.amount, x.tax, x.fee)
            for x in quote.lines
        ),
    )
    details = {name: getattr(refunded, name) for name in _REFUND_DETAILS}
    return_move(ret, action, actor, now=now, details=details)
    ret.save()
    events_record([_return_event(refunded, ret)], correlation_id=ret.correlation_id, now=now)


# What the return's timeline keeps of a refund.
_REFUND_DETAILS = (
    "amount",
    "goods",
    "tax",
    "shipping",
    "restocking_fee",
    "exchange_credit",
    "exchange_due",
    "method",
    "provisional",
)


class _Whose(TypedDict):
    return_id: int
    order_id: int
    channel: str
    currency: str


def _whose(ret: Return) -> _Whose:
    """What an event the ledger reads says first: which return, order and channel, in which
    currency."""
    return {
        "return_id": ret.pk,
        "order_id": ret.order_id,
        "channel": ret.channel.code,
        "currency": ret.currency,
    }


def _return_event(payload: ReturnRefunded | ReturnClosed, ret: Return) -> NewEvent:
    return contract_event(payload, aggregate_type="return", aggregate_id=ret.pk)


def return_close(*, return_id: int, actor: Actor = None, now: datetime | None = None) -> Return:
    """Financially complete: refunded for good (not provisionally), every unit received."""
    now = now or timezone.now()
    with transaction.atomic():
        ret = return_locked(return_id)
        step_check(ret, "close")
        return_move(ret, "close", actor, now=now)
        closed = ReturnClosed(
            **_whose(ret),
            refund_amount=ret.refund_amount,
            refund_tax=ret.refund_tax,
            refund_shipping=ret.refund_shipping,
            restocking_fee=ret.restocking_fee,
            method=ret.refund_method,
        )
        events_record([_return_event(closed, ret)], correlation_id=ret.correlation_id, now=now)
    return ret
