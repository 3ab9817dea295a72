"""Shopify's payments on an order: its transactions when the payload has them (captures folded
into their authorizations, voids dropped, converted to shop money at the order's own rate), or
else one payment per the webhook's gateway names. The order mapping is `shopify`."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from retailsync.core.money import allocate, is_currency, quantize

from .base import ZERO, Payment, Reader

GIFT_CARD = "gift_card"
# Transaction kinds that take or reserve the buyer's money; refunds arrive as refunds/create.
MONEY_KINDS = {"sale", "authorization", "capture"}
FAILED = {"failure", "error"}


def single_payment(names: list[str], legacy_gateway: Any, total: Decimal) -> list[Payment]:
    """Webhooks carry no transactions, so the amount per gateway is unknown.

    The whole total goes to the card (or other non-gift-card) gateway; with a gift card among the
    gateways the split is unknown until the transactions arrive, and the gateway list is kept in
    the order's metadata so reconciliation can see it was a split tender.
    """
    gateway = next((n for n in names if n != GIFT_CARD), names[0] if names else "")
    gateway = gateway or as_text(legacy_gateway)
    if not gateway:
        return []
    return [
        Payment(gateway=gateway, amount=total, kind="gift_card" if gateway == GIFT_CARD else "sale")
    ]


def transactions(r: Reader, payload: Mapping[str, Any], currency: str) -> list[Payment]:
    """One Payment per successful sale, authorization or unmatched capture.

    A capture of an authorization in the same list is folded into it (captured_amount), and a
    voided authorization is dropped, so the payments add up to what the buyer was charged.
    """
    payments: dict[str, Payment] = {}
    voided: set[str] = set()
    for i, t in enumerate(r.list(payload, "transactions", "transactions")):
        path = f"transactions[{i}]"
        kind = r.str(t, "kind", f"{path}.kind")
        status = r.str(t, "status", f"{path}.status", required=False)
        if not isinstance(t, Mapping) or status in FAILED:
            continue
        parent = as_text(t.get("parent_id"))
        if kind == "void":
            voided.add(parent)
            continue
        if kind not in MONEY_KINDS:
            continue
        amount = r.amount(t, "amount", f"{path}.amount")
        authorization = payments.get(parent)
        if kind == "capture" and authorization and authorization.authorized_amount is not None:
            authorization.captured_amount = (authorization.captured_amount or ZERO) + amount
            continue
        gateway = r.str(t, "gateway", f"{path}.gateway", required=False)
        transaction_id = r.str(t, "id", f"{path}.id", required=False) or str(i)
        details = t.get("payment_details")
        payments[transaction_id] = Payment(
            gateway=gateway,
            amount=amount,
            reference=as_text(t.get("authorization")) or transaction_id,
            kind="gift_card" if gateway == GIFT_CARD else kind,
            method=GIFT_CARD
            if gateway == GIFT_CARD
            else as_text(
                details.get("credit_card_company") if isinstance(details, Mapping) else None
            ),
            authorized_amount=amount if kind == "authorization" else None,
            captured_amount=None if kind == "authorization" else amount,
            metadata={
                "transaction_id": transaction_id,
                **{
                    k: as_text(t[k])
                    for k in ("status", "currency", "processed_at", "parent_id")
                    if t.get(k) is not None
                },
            },
        )
    kept = [p for ref, p in payments.items() if ref not in voided]
    _to_shop_money(r, payload, kept, currency)
    return kept


def _to_shop_money(
    r: Reader, payload: Mapping[str, Any], payments: list[Payment], currency: str
) -> None:
    """Transactions are in the presentment currency unless fetched with `in_shop_currency`.

    Convert them at the order's own rate (shop total / presentment total), splitting the
    converted sum with `allocate`, so tenders that cover the whole order add up to total_price.
    """
    foreign = [p for p in payments if p.metadata.get("currency", currency).upper() != currency]
    if not foreign:
        return
    paid_in = foreign[0].metadata["currency"].upper()
    price_set = payload.get("total_price_set")
    sides = price_set if isinstance(price_set, Mapping) else {}
    shop, shown = sides.get("shop_money"), sides.get("presentment_money")
    shop_total = r.amount(shop, "amount", "total_price_set.shop_money.amount", required=False)
    shown_total = r.amount(
        shown, "amount", "total_price_set.presentment_money.amount", required=False
    )
    shown_currency = shown.get("currency_code") if isinstance(shown, Mapping) else None
    if (
        not shop_total
        or not shown_total
        or shown_currency != paid_in
        or any(p.metadata["currency"].upper() != paid_in for p in foreign)
    ):
        r.fail(
            "transactions",
            f"amounts in {paid_in} cannot be converted to {currency}: "
            "total_price_set gives no rate for them",
        )
        return
    cents = minor_unit(currency)
    converted = quantize(sum((p.amount for p in foreign), ZERO) * shop_total / shown_total, cents)
    parts = allocate(converted, [p.amount for p in foreign], cents)
    for payment, part in zip(foreign, parts, strict=True):
        payment.metadata["presentment_amount"] = str(payment.amount)
        payment.amount = part
        if payment.authorized_amount is not None:
            payment.authorized_amount = part
            if payment.captured_amount is not None:
                payment.captured_amount = quantize(
                    payment.captured_amount * shop_total / shown_total, cents
                )
        else:
            payment.captured_amount = part


def minor_unit(currency: str) -> str:
    """The currency whose minor unit splits an amount (`money.allocate`): the order's own;
    an unknown code is the validator's to reject, not ours."""
    return currency if is_currency(currency) else "USD"


def as_text(value: Any) -> str:
    """An optional id or label as text: Shopify's ids are numbers too big for a float."""
    return "" if value is None or isinstance(value, bool) else str(value)
