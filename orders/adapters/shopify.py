"""Shopify orders/create and orders/updated webhooks (the REST order JSON) to a canonical order.

Amounts are read in shop money, the shop's accounting currency; what the buyer saw
(`presentment_currency` and the `*_set` twins) stays in metadata. Shopify ids exceed 2^53, so
every id is kept as a string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retailsync.core.money import allocate

from .base import (
    ZERO,
    CanonicalOrder,
    Deliveries,
    DiscountAllocation,
    Fee,
    Line,
    Reader,
    ShippingLine,
    TaxLine,
    payment_state,
)
from .personal import leftovers, mask_email
from .shopify_payments import GIFT_CARD, as_text, minor_unit, single_payment, transactions

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
        payments = transactions(r, payload, currency)
    else:
        payments = single_payment(names, payload.get("gateway"), total)
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
                code=as_text(application.get("code")),
                title=as_text(application.get("title")),
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
        for line, part in zip(
            lines, allocate(tax.amount, weights, minor_unit(currency)), strict=True
        ):
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


def _email(payload: Mapping[str, Any]) -> str:
    customer = payload.get("customer")
    candidates = (
        payload.get("email"),
        payload.get("contact_email"),
        customer.get("email") if isinstance(customer, Mapping) else None,
    )
    return next((e for e in candidates if isinstance(e, str) and e), "")


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
