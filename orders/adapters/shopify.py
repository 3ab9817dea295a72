"""Shopify orders/create and orders/updated webhooks (the REST order JSON) to a canonical order.

Amounts are read in shop money, the shop's accounting currency; what the buyer saw
(`presentment_currency` and the `*_set` twins) stays in metadata. Shopify ids exceed 2^53, so
every id is kept as a string.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from retailsync.core.money import allocate, is_currency, quantize

from .base import (
    ZERO,
    CanonicalOrder,
    Deliveries,
    DiscountAllocation,
    Fee,
    Line,
    Payment,
    Reader,
    ShippingLine,
    TaxLine,
    payment_state,
)
from .personal import leftovers, mask_email

# `financial_status` values before the money is taken (formats.md §1).
UNPAID = frozenset({"pending", "authorized"})

MAPPED = {
    "id",
    "name",
    "currency",
    "created_at",
    "updated_at",
    "taxes_included",
    "total_price",
    "financial_status",
    "line_items",
    "shipping_lines",
    "tax_lines",
    "transactions",
    "payment_gateway_names",
    "total_tip_received",
}
# Personal data the shared list does not name: free text from the buyer, a second phone.
PRIVATE = {"contact_email", "note", "note_attributes", "sms_marketing_phone"}
# Line-item fields worth keeping beside the canonical line; the rest (properties, locations)
# may carry personal text or addresses.
LINE_KEPT = (
    "variant_id",
    "product_id",
    "title",
    "variant_title",
    "vendor",
    "taxable",
    "requires_shipping",
    "fulfillment_status",
    "current_quantity",
    "price_set",
)
HEADERS = {
    "x-shopify-topic": "topic",
    "x-shopify-shop-domain": "shop_domain",
    "x-shopify-api-version": "api_version",
    "x-shopify-webhook-id": "webhook_id",
    "x-shopify-event-id": "event_id",
    "x-shopify-triggered-at": "triggered_at",
}
GIFT_CARD = "gift_card"
# Transaction kinds that take or reserve the buyer's money; refunds arrive as refunds/create.
MONEY_KINDS = {"sale", "authorization", "capture"}
FAILED = {"failure", "error"}


def parse(payload: Any, headers: Mapping[str, str]) -> CanonicalOrder:
    r = Reader()
    if not isinstance(payload, Mapping):
        r.fail("", "an order must be a JSON object")
        r.finish()
    currency = r.str(payload, "currency", "currency").upper()
    applications = r.list(payload, "discount_applications", "discount_applications", required=False)
    lines = [
        _line(r, item, f"line_items[{i}].", applications)
        for i, item in enumerate(r.list(payload, "line_items", "line_items"))
    ]
    shipping_lines = [
        _shipping_line(r, s, f"shipping_lines[{i}].", applications)
        for i, s in enumerate(r.list(payload, "shipping_lines", "shipping_lines", required=False))
    ]
    metadata = leftovers(payload, MAPPED | PRIVATE)
    has_detail = any(x.tax_lines for x in lines) or any(s.tax_lines for s in shipping_lines)
    if not has_detail and _allocate_order_tax(r, payload, lines, currency):
        metadata["tax_allocated_from_order"] = True
    include = payload.get("taxes_included", False)
    if not isinstance(include, bool):
        r.fail("taxes_included", "must be true or false")
        include = False
    placed_key = "created_at"
    if payload.get("created_at") is None and payload.get("processed_at") is not None:
        placed_key = "processed_at"
    placed_at = r.datetime(payload, placed_key, placed_key)
    total = r.amount(payload, "total_price", "total_price")
    tip = r.amount(payload, "total_tip_received", "total_tip_received", required=False)
    names = [
        n
        for n in r.list(payload, "payment_gateway_names", "payment_gateway_names", required=False)
        if isinstance(n, str)
    ]
    if GIFT_CARD in names:
        metadata["payment_gateway_names"] = names
    if payload.get("transactions"):
        payments = _transactions(r, payload, currency)
    else:
        payments = _single_payment(names, payload.get("gateway"), total)
    webhook = {HEADERS[k.lower()]: v for k, v in headers.items() if k.lower() in HEADERS}
    if webhook:
        metadata["webhook"] = webhook
    order = CanonicalOrder(
        external_id=r.str(payload, "id", "id"),
        order_number=r.str(payload, "name", "name", required=False),
        currency=currency,
        placed_at=placed_at,  # type: ignore[arg-type]  # None only when r.finish() raises
        source_updated_at=r.datetime(payload, "updated_at", "updated_at", required=False),
        prices_include_tax=include,
        lines=lines,
        shipping_lines=shipping_lines,
        fees=[Fee(kind="tip", amount=tip, title="Tip")] if tip else [],
        payments=payments,
        channel_total=total,
        channel_status=r.str(payload, "financial_status", "financial_status", required=False),
        cancelled=payload.get("cancelled_at") is not None,
        metadata=metadata,
    )
    order.customer_email, order.customer_ref = mask_email(_email(payload))
    order.payment_state = payment_state(order.channel_status, UNPAID)
    r.finish()
    return order


def _line(r: Reader, item: Any, prefix: str, applications: list[Any]) -> Line:
    discounts = _discounts(r, item, prefix, applications)
    if isinstance(item, Mapping) and "discount_allocations" not in item:
        # API versions before discount_allocations only gave the line's total discount.
        legacy = r.amount(item, "total_discount", f"{prefix}total_discount", required=False)
        discounts = [DiscountAllocation(amount=legacy)] if legacy else []
    gift_card = item.get("gift_card") if isinstance(item, Mapping) else None
    if gift_card is not None and not isinstance(gift_card, bool):
        r.fail(f"{prefix}gift_card", "must be true or false")
    return Line(
        sku=r.str(item, "sku", f"{prefix}sku", required=False),
        quantity=r.quantity(item, "quantity", f"{prefix}quantity"),
        unit_price=r.amount(item, "price", f"{prefix}price"),
        external_id=r.str(item, "id", f"{prefix}id"),
        name=r.str(item, "name", f"{prefix}name", required=False),
        discounts=discounts,
        tax_lines=_tax_lines(r, item, prefix),
        is_gift_card=gift_card is True,
        metadata=_line_metadata(item),
    )


def _shipping_line(r: Reader, data: Any, prefix: str, applications: list[Any]) -> ShippingLine:
    return ShippingLine(
        amount=r.amount(data, "price", f"{prefix}price"),
        title=r.str(data, "title", f"{prefix}title", required=False),
        code=r.str(data, "code", f"{prefix}code", required=False),
        discounts=_discounts(r, data, prefix, applications),
        tax_lines=_tax_lines(r, data, prefix),
    )


def _line_metadata(item: Any) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        return {}
    kept = {key: item[key] for key in LINE_KEPT if item.get(key) is not None}
    for key in ("variant_id", "product_id"):
        if key in kept:
            kept[key] = str(kept[key])
    return kept


def _discounts(
    r: Reader, data: Any, prefix: str, applications: list[Any]
) -> list[DiscountAllocation]:
    out = []
    allocations = r.list(
        data, "discount_allocations", f"{prefix}discount_allocations", required=False
    )
    for i, allocation in enumerate(allocations):
        application = _application(allocation, applications)
        out.append(
            DiscountAllocation(
                amount=r.amount(allocation, "amount", f"{prefix}discount_allocations[{i}].amount"),
                code=_text(application.get("code")),
                title=_text(application.get("title")),
            )
        )
    return out


def _application(allocation: Any, applications: list[Any]) -> Mapping[str, Any]:
    """The discount an allocation points at; a dangling index still leaves a usable amount."""
    index = (
        allocation.get("discount_application_index") if isinstance(allocation, Mapping) else None
    )
    if isinstance(index, bool) or not isinstance(index, int):
        return {}
    found = applications[index] if 0 <= index < len(applications) else None
    return found if isinstance(found, Mapping) else {}


def _tax_lines(r: Reader, data: Any, prefix: str) -> list[TaxLine]:
    out = []
    for i, tax in enumerate(r.list(data, "tax_lines", f"{prefix}tax_lines", required=False)):
        path = f"{prefix}tax_lines[{i}]"
        rate = None
        if isinstance(tax, Mapping) and tax.get("rate") is not None:
            rate = r.amount(tax, "rate", f"{path}.rate")
        out.append(
            TaxLine(
                amount=r.amount(tax, "price", f"{path}.price"),
                title=r.str(tax, "title", f"{path}.title", required=False),
                rate=rate,
                # Shopify's channel_liable: the sales channel, not the merchant, remits it.
                collected_by_channel=isinstance(tax, Mapping) and tax.get("channel_liable") is True,
            )
        )
    return out


def _allocate_order_tax(r: Reader, payload: Any, lines: list[Line], currency: str) -> bool:
    """Some payloads (older API versions, imported orders) carry tax only on the order.

    Each order-level tax is split over the taxable lines in proportion to what they charge after
    discounts, so the parts add up to the cent. Shipping gets none: the order-level figure does
    not say how much of it was on shipping, and the order's tax total is what must be right.
    """
    taxes = _tax_lines(r, payload, "")
    if not taxes or not lines:
        return False
    weights = [
        ZERO
        if line.is_gift_card or line.metadata.get("taxable") is False
        else line.gross - line.discount
        for line in lines
    ]
    for tax in taxes:
        for line, part in zip(lines, allocate(tax.amount, weights, _cents(currency)), strict=True):
            if part:
                line.tax_lines.append(
                    TaxLine(
                        amount=part,
                        title=tax.title,
                        rate=tax.rate,
                        collected_by_channel=tax.collected_by_channel,
                    )
                )
    return True


def _single_payment(names: list[str], legacy_gateway: Any, total: Decimal) -> list[Payment]:
    """Webhooks carry no transactions, so the amount per gateway is unknown.

    The whole total goes to the card (or other non-gift-card) gateway; with a gift card among the
    gateways the split is unknown until the transactions arrive, and the gateway list is kept in
    the order's metadata so reconciliation can see it was a split tender.
    """
    gateway = next((n for n in names if n != GIFT_CARD), names[0] if names else "")
    gateway = gateway or _text(legacy_gateway)
    if not gateway:
        return []
    return [
        Payment(gateway=gateway, amount=total, kind="gift_card" if gateway == GIFT_CARD else "sale")
    ]


def _transactions(r: Reader, payload: Mapping[str, Any], currency: str) -> list[Payment]:
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
        parent = _text(t.get("parent_id"))
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
            reference=_text(t.get("authorization")) or transaction_id,
            kind="gift_card" if gateway == GIFT_CARD else kind,
            method=GIFT_CARD
            if gateway == GIFT_CARD
            else _text(
                details.get("credit_card_company") if isinstance(details, Mapping) else None
            ),
            authorized_amount=amount if kind == "authorization" else None,
            captured_amount=None if kind == "authorization" else amount,
            metadata={
                "transaction_id": transaction_id,
                **{
                    k: _text(t[k])
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
    cents = _cents(currency)
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


def _email(payload: Mapping[str, Any]) -> str:
    customer = payload.get("customer")
    candidates = (
        payload.get("email"),
        payload.get("contact_email"),
        customer.get("email") if isinstance(customer, Mapping) else None,
    )
    return next((e for e in candidates if isinstance(e, str) and e), "")


def _cents(currency: str) -> str:
    """Allocation needs a minor unit; an unknown code is the validator's to reject, not ours."""
    return currency if is_currency(currency) else "USD"


def _text(value: Any) -> str:
    return "" if value is None or isinstance(value, bool) else str(value)


DELIVERIES = Deliveries(
    message_id_headers=("X-Shopify-Webhook-Id", "X-Shopify-Event-Id"),
    topic_headers=("X-Shopify-Topic",),
    kept_headers=(
        "X-Shopify-Shop-Domain",
        "X-Shopify-API-Version",
        "X-Shopify-Triggered-At",
        "X-Shopify-Hmac-Sha256",
    ),
)
