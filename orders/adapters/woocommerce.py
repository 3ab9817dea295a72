"""WooCommerce order webhook body (`order.created` / `order.updated`): the REST v3 order.

WooCommerce keeps every line, shipping and fee figure before tax (`subtotal`, `total`) with the
tax beside it (`subtotal_tax`, `total_tax`), even when the shop's prices include tax. So when
`prices_include_tax` is true the canonical figures are the sums of the two: the tax is then the
part of each price that is tax, and the lines, shipping and fees still add up to `total`.

A line's unit price is its pre-discount total over its quantity (`price` is after discounts).
When that does not divide exactly it is rounded away from zero to 4 places, and the fraction of a
cent that the rounding added is booked as a discount ("unit price rounding"), so the line still
costs exactly what WooCommerce charged. Coupons are already spread over the lines
(`subtotal - total`); the payload does not say which coupon took how much from which line, so
the code is named only when the order has a single coupon.

Each line's `taxes[]` gives the tax per rate id; `tax_lines[]` gives the rate's label, code and
percentage. Rates are fractions (`rate_percent` 7.25 -> 0.0725), as Shopify sends them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import ROUND_UP, Decimal
from typing import Any

from retailsync.core.money import AMOUNT_PLACES, allocate, is_currency

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
from .personal import PERSONAL_FIELDS, leftovers, mask_email

# Order statuses before payment: awaiting it, or held until it is confirmed.
UNPAID = frozenset({"pending", "on-hold"})

MAPPED = {
    "id",
    "number",
    "status",
    "currency",
    "date_created",
    "date_created_gmt",
    "date_modified",
    "date_modified_gmt",
    "prices_include_tax",
    "line_items",
    "shipping_lines",
    "fee_lines",
    "coupon_lines",
    "tax_lines",
    "total",
    "total_tax",
    "discount_total",
    "discount_tax",
    "shipping_total",
    "shipping_tax",
    "cart_tax",
    "payment_method",
    "payment_method_title",
    "transaction_id",
}
LINE_MAPPED = {
    "id",
    "name",
    "sku",
    "quantity",
    "subtotal",
    "subtotal_tax",
    "total",
    "total_tax",
    "taxes",
}
PERSONAL = PERSONAL_FIELDS | {"customer_note"}
ROUNDING = "unit price rounding"


def _split(total: Decimal, weights: list[Decimal], currency: str) -> list[Decimal]:
    """`total` shared in proportion to `weights`. The per-rate taxes can carry more decimals
    than the item's rounded `total_tax`, and the item's figure is the one WooCommerce charged."""
    if sum(weights, ZERO) == total or not is_currency(currency):
        return weights
    parts = allocate(total, weights, currency)
    return parts if sum(parts, ZERO) == total else weights


def _fraction(r: Reader, data: Any, key: str, path: str) -> Decimal | None:
    """A percentage (`7.25`) as a fraction (0.0725), or None where the source gives none."""
    if not isinstance(data, Mapping) or data.get(key) is None:
        return None
    return r.amount(data, key, path) / 100


def _rates(r: Reader, payload: Mapping[str, Any]) -> dict[str, TaxLine]:
    rates = {}
    for k, line in enumerate(r.list(payload, "tax_lines", "tax_lines", required=False)):
        path = f"tax_lines[{k}]"
        code = r.str(line, "rate_code", f"{path}.rate_code", required=False)
        rates[r.str(line, "rate_id", f"{path}.rate_id", required=False)] = TaxLine(
            amount=ZERO,
            title=r.str(line, "label", f"{path}.label", required=False) or code,
            rate=_fraction(r, line, "rate_percent", f"{path}.rate_percent"),
            provider_reference=code,
        )
    return rates


class _Order:
    """What every item of one order is read against."""

    def __init__(self, r: Reader, payload: Mapping[str, Any], currency: str):
        self.r = r
        self.currency = currency
        self.inclusive = payload.get("prices_include_tax") is True
        self.rates = _rates(r, payload)
        self.coupons = [
            r.str(c, "code", f"coupon_lines[{k}].code", required=False)
            for k, c in enumerate(r.list(payload, "coupon_lines", "coupon_lines", required=False))
        ]

    def tax_lines(self, item: Any, path: str, total_tax: Decimal) -> list[TaxLine]:
        entries = self.r.list(item, "taxes", f"{path}.taxes", required=False)
        if not entries:
            return [TaxLine(total_tax, title="Tax")] if total_tax else []
        rates, amounts = [], []
        for j, tax in enumerate(entries):
            rate_id = self.r.str(tax, "id", f"{path}.taxes[{j}].id")
            rates.append(self.rates.get(rate_id, TaxLine(ZERO, provider_reference=rate_id)))
            # A rate that applied only before discounts is left with an empty total.
            empty = isinstance(tax, Mapping) and tax.get("total") == ""
            amounts.append(
                ZERO if empty else self.r.amount(tax, "total", f"{path}.taxes[{j}].total")
            )
        parts = _split(total_tax, amounts, self.currency)
        return [replace(rate, amount=part) for rate, part in zip(rates, parts, strict=True)]

    def charged(self, item: Any, path: str) -> tuple[Decimal, list[TaxLine]]:
        """What an item costs (`total`, plus its tax when prices include tax) and its taxes."""
        total = self.r.amount(item, "total", f"{path}.total")
        total_tax = self.r.amount(item, "total_tax", f"{path}.total_tax", required=False)
        tax_lines = self.tax_lines(item, path, total_tax)
        return (total + total_tax if self.inclusive else total), tax_lines

    def discounts(self, amount: Decimal) -> list[DiscountAllocation]:
        if not amount:
            return []
        if len(self.coupons) == 1:
            return [DiscountAllocation(amount, code=self.coupons[0])]
        return [DiscountAllocation(amount, title=", ".join(self.coupons) or "Discount")]


def _unit_price(gross: Decimal, quantity: int) -> Decimal:
    """Rounded away from zero when inexact, so what the rounding adds is a discount, never a
    surcharge hidden in the price."""
    if not quantity:
        return ZERO
    unit = gross / quantity
    return unit if unit * quantity == gross else unit.quantize(AMOUNT_PLACES, rounding=ROUND_UP)


def _line(o: _Order, item: Any, path: str) -> Line:
    r = o.r
    quantity = r.quantity(item, "quantity", f"{path}.quantity")
    gross = r.amount(item, "subtotal", f"{path}.subtotal")
    if o.inclusive:
        gross += r.amount(item, "subtotal_tax", f"{path}.subtotal_tax", required=False)
    net, tax_lines = o.charged(item, path)
    unit_price = _unit_price(gross, quantity)
    discounts = o.discounts(gross - net)
    rounding = unit_price * quantity - gross if quantity else ZERO
    if rounding:
        discounts.append(DiscountAllocation(rounding, title=ROUNDING))
    return Line(
        sku=r.str(item, "sku", f"{path}.sku", required=False),
        quantity=quantity,
        unit_price=unit_price,
        external_id=r.str(item, "id", f"{path}.id", required=False),
        name=r.str(item, "name", f"{path}.name", required=False),
        discounts=discounts,
        tax_lines=tax_lines,
        metadata=leftovers(item, LINE_MAPPED) if isinstance(item, Mapping) else {},
    )


def _shipping(o: _Order, item: Any, path: str) -> ShippingLine:
    amount, tax_lines = o.charged(item, path)
    return ShippingLine(
        amount=amount,
        title=o.r.str(item, "method_title", f"{path}.method_title", required=False),
        code=o.r.str(item, "method_id", f"{path}.method_id", required=False),
        tax_lines=tax_lines,
    )


def _fee(o: _Order, item: Any, path: str) -> Fee:
    amount, tax_lines = o.charged(item, path)
    title = o.r.str(item, "name", f"{path}.name", required=False)
    return Fee(kind="fee", amount=amount, title=title, tax_lines=tax_lines)


def parse(payload: Any, headers: Mapping[str, str]) -> CanonicalOrder:
    r = Reader()
    if not isinstance(payload, Mapping):
        r.fail("", "an order must be a JSON object")
        r.finish()
    include = payload.get("prices_include_tax", False)
    if not isinstance(include, bool):
        r.fail("prices_include_tax", "must be true or false")
    currency = r.str(payload, "currency", "currency").upper()
    o = _Order(r, payload, currency)
    created = "date_created_gmt" if payload.get("date_created_gmt") else "date_created"
    total = r.amount(payload, "total", "total")
    gateway = r.str(payload, "payment_method", "payment_method", required=False)
    order = CanonicalOrder(
        external_id=r.str(payload, "id", "id"),
        order_number=r.str(payload, "number", "number", required=False),
        currency=currency,
        placed_at=r.datetime(payload, created, created),  # type: ignore[arg-type]
        source_updated_at=r.datetime(
            payload, "date_modified_gmt", "date_modified_gmt", required=False
        ),
        prices_include_tax=o.inclusive,
        lines=[
            _line(o, item, f"line_items[{i}]")
            for i, item in enumerate(r.list(payload, "line_items", "line_items"))
        ],
        shipping_lines=[
            _shipping(o, item, f"shipping_lines[{i}]")
            for i, item in enumerate(
                r.list(payload, "shipping_lines", "shipping_lines", required=False)
            )
        ],
        fees=[
            _fee(o, item, f"fee_lines[{i}]")
            for i, item in enumerate(r.list(payload, "fee_lines", "fee_lines", required=False))
        ],
        payments=[
            Payment(
                gateway=gateway,
                amount=total,
                reference=r.str(payload, "transaction_id", "transaction_id", required=False),
                method=r.str(
                    payload, "payment_method_title", "payment_method_title", required=False
                ),
            )
        ]
        if gateway
        else [],
        channel_total=total,
        channel_status=r.str(payload, "status", "status", required=False),
        metadata=leftovers(payload, MAPPED, PERSONAL),
    )
    order.cancelled = order.channel_status == "cancelled"
    billing = r.obj(payload, "billing", "billing", required=False)
    order.customer_email, order.customer_ref = mask_email(
        r.str(billing, "email", "billing.email", required=False)
    )
    order.payment_state = payment_state(order.channel_status, UNPAID)
    r.finish()
    return order


def is_ping(content_type: str, body: bytes) -> bool:
    """WooCommerce pings a new webhook with a form body `webhook_id=N`: it only wants a 200."""
    return content_type.startswith("application/x-www-form-urlencoded") and body.startswith(
        b"webhook_id="
    )


DELIVERIES = Deliveries(
    message_id_headers=("X-WC-Webhook-Delivery-ID",),
    topic_headers=("X-WC-Webhook-Topic",),
    kept_headers=("X-WC-Webhook-Source",),
    is_ping=is_ping,
)
