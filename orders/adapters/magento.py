"""Adobe Commerce / Magento 2 REST sales order (`GET /rest/<store>/V1/orders/{id}`).

Magento's traps, and what this adapter does about them:

- Bundle and configurable children are items of their own (with `parent_item_id`) whose prices
  repeat what the parent already charges. Only top-level items become lines; the children go
  into the parent line's metadata. A dynamic-price bundle books its discount and tax on the children, so a parent with
  none of its own takes its children's.
- `price` is always before tax and `price_incl_tax` always after, whatever the catalog setting,
  so neither says how prices were entered. What matters is where the discount was taken: off
  tax-inclusive prices, Magento adds the tax on the discount back as
  `discount_tax_compensation_amount`, and only tax-inclusive prices (`price_incl_tax`,
  `shipping_incl_tax`) then add up to `grand_total`. So `prices_include_tax` is true exactly when
  a compensation is non-zero; otherwise ex-tax prices plus tax add up to `grand_total`.
- The order's `discount_amount` is negative, the items' positive. Whatever part of the order's
  discount Magento did not book on items or shipping is shared out over the lines by price.

Amounts are JSON numbers, read as Decimal and kept as sent. Rates are fractions (8.25% -> 0.0825).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from retailsync.core.money import allocate, is_currency

from .base import (
    CanonicalOrder,
    Deliveries,
    DiscountAllocation,
    Line,
    Payment,
    Reader,
    ShippingLine,
    TaxLine,
    payment_state,
)
from .personal import PERSONAL_FIELDS, leftovers, mask_email

# Statuses of orders not invoiced yet: new, or waiting for the payment provider.
UNPAID = frozenset({"pending", "pending_payment"})

MAPPED = {
    "entity_id",
    "increment_id",
    "order_currency_code",
    "created_at",
    "updated_at",
    "status",
    "items",
    "payment",
    "customer_email",
    "grand_total",
    "subtotal",
    "subtotal_incl_tax",
    "tax_amount",
    "discount_amount",
    "discount_description",
    "coupon_code",
    "discount_tax_compensation_amount",
    "shipping_amount",
    "shipping_incl_tax",
    "shipping_tax_amount",
    "shipping_discount_amount",
    "shipping_discount_tax_compensation_amount",
    "shipping_description",
}
LINE_MAPPED = {
    "item_id",
    "sku",
    "name",
    "qty_ordered",
    "price",
    "price_incl_tax",
    "discount_amount",
    "tax_amount",
    "tax_percent",
}
# Personal data Magento keeps outside the shared list: the shipping address inside
# extension_attributes.shipping_assignments, the remaining customer_* fields, the IP. A nested
# `shipping` is Magento's container for that address, the method and the totals: only its
# `address` goes.
PERSONAL = (PERSONAL_FIELDS - {"shipping"}) | {
    "address",
    "customer_middlename",
    "customer_prefix",
    "customer_suffix",
    "customer_dob",
    "customer_gender",
    "customer_taxvat",
    "customer_note",
    "remote_ip",
    "x_forwarded_for",
}


class _Rule(NamedTuple):
    """The order's discount (coupon code, rule label), named on every share of it."""

    code: str
    title: str

    def allocation(self, amount: Decimal) -> DiscountAllocation:
        return DiscountAllocation(amount, code=self.code, title=self.title)


def _dig(value: Any, *keys: str | int) -> Any:
    """A value deep inside the payload, or None if any step is missing or of the wrong type."""
    for key in keys:
        if isinstance(key, int):
            value = value[key] if isinstance(value, list) and len(value) > key else None
        else:
            value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _fraction(r: Reader, data: Any, key: str, path: str) -> Decimal | None:
    """A percentage (`8.25`) as a fraction (0.0825), or None where the source gives none."""
    if not isinstance(data, Mapping) or data.get(key) is None:
        return None
    return r.amount(data, key, path) / 100


def _has_compensation(r: Reader, payload: Mapping[str, Any], items: list[Any]) -> bool:
    keys = ("discount_tax_compensation_amount", "shipping_discount_tax_compensation_amount")
    found = [r.amount(payload, key, key, required=False) for key in keys]
    found += [
        r.amount(item, keys[0], f"items[{i}].{keys[0]}", required=False)
        for i, item in enumerate(items)
    ]
    return any(found)


def _discounts(r: Reader, item: Any, path: str, rule: _Rule) -> list[DiscountAllocation]:
    amount = r.amount(item, "discount_amount", f"{path}.discount_amount", required=False)
    return [rule.allocation(amount)] if amount else []


def _tax_lines(r: Reader, item: Any, path: str) -> list[TaxLine]:
    amount = r.amount(item, "tax_amount", f"{path}.tax_amount", required=False)
    if not amount:
        return []
    return [TaxLine(amount, rate=_fraction(r, item, "tax_percent", f"{path}.tax_percent"))]


def _line(
    r: Reader, item: Any, path: str, children: list[tuple[str, Any]], inclusive: bool, rule: _Rule
) -> Line:
    price = "price_incl_tax" if inclusive else "price"
    discounts = _discounts(r, item, path, rule) or [
        d for child_path, child in children for d in _discounts(r, child, child_path, rule)
    ]
    tax_lines = _tax_lines(r, item, path) or [
        t for child_path, child in children for t in _tax_lines(r, child, child_path)
    ]
    metadata = leftovers(item, LINE_MAPPED) if isinstance(item, Mapping) else {}
    if children:
        metadata["children"] = [leftovers(child, {"parent_item"}) for _, child in children]
    return Line(
        sku=r.str(item, "sku", f"{path}.sku", required=False),
        quantity=r.quantity(item, "qty_ordered", f"{path}.qty_ordered"),
        unit_price=r.amount(item, price, f"{path}.{price}"),
        external_id=r.str(item, "item_id", f"{path}.item_id", required=False),
        name=r.str(item, "name", f"{path}.name", required=False),
        discounts=discounts,
        tax_lines=tax_lines,
        metadata=metadata,
    )


def _lines(r: Reader, items: list[Any], inclusive: bool, rule: _Rule) -> list[Line]:
    top: list[tuple[str, Any]] = []
    children: dict[str, list[tuple[str, Any]]] = {}
    for i, item in enumerate(items):
        parent = _dig(item, "parent_item_id")
        if parent:
            children.setdefault(str(parent), []).append((f"items[{i}]", item))
        else:
            top.append((f"items[{i}]", item))
    lines = [
        _line(r, item, path, children.pop(str(_dig(item, "item_id")), []), inclusive, rule)
        for path, item in top
    ]
    for orphans in children.values():  # their money would otherwise vanish unnoticed
        for path, _ in orphans:
            r.fail(f"{path}.parent_item_id", "names no top-level item of this order")
    return lines


def _shipping(
    r: Reader, payload: Mapping[str, Any], inclusive: bool, rule: _Rule
) -> list[ShippingLine]:
    key = "shipping_incl_tax" if inclusive else "shipping_amount"
    amount = r.amount(payload, key, key, required=False)
    discount = r.amount(
        payload, "shipping_discount_amount", "shipping_discount_amount", required=False
    )
    tax = r.amount(payload, "shipping_tax_amount", "shipping_tax_amount", required=False)
    title = r.str(payload, "shipping_description", "shipping_description", required=False)
    if not (amount or discount or tax or title):
        return []
    method = _dig(payload, "extension_attributes", "shipping_assignments", 0, "shipping", "method")
    return [
        ShippingLine(
            amount=amount,
            title=title,
            code=method if isinstance(method, str) else "",
            discounts=[rule.allocation(discount)] if discount else [],
            tax_lines=[TaxLine(tax)] if tax else [],
        )
    ]


def _share_unbooked_discount(
    r: Reader, payload: Mapping[str, Any], order: CanonicalOrder, rule: _Rule
) -> None:
    """An order discount no item or shipping carries (a custom total, an extension) still came
    off the goods: share it over the lines by price, to the cent, parts adding up."""
    total = abs(r.amount(payload, "discount_amount", "discount_amount", required=False))
    unbooked = total - order.discount
    if unbooked <= 0 or not order.lines or not is_currency(order.currency):
        return
    parts = allocate(unbooked, [line.gross for line in order.lines], order.currency)
    for line, part in zip(order.lines, parts, strict=True):
        if part:
            line.discounts.append(rule.allocation(part))


def _payments(r: Reader, payload: Mapping[str, Any]) -> list[Payment]:
    payment = r.obj(payload, "payment", "payment", required=False)
    if not payment:
        return []
    paid = payment.get("amount_paid") is not None
    key = "amount_paid" if paid else "amount_ordered"
    amount = r.amount(payment, key, f"payment.{key}")
    return [
        Payment(
            gateway=r.str(payment, "method", "payment.method"),
            amount=amount,
            reference=r.str(payment, "last_trans_id", "payment.last_trans_id", required=False),
            method=r.str(payment, "cc_type", "payment.cc_type", required=False),
            captured_amount=amount if paid else None,
        )
    ]


def parse(payload: Any, headers: Mapping[str, str]) -> CanonicalOrder:
    r = Reader()
    if not isinstance(payload, Mapping):
        r.fail("", "an order must be a JSON object")
        r.finish()
    items = r.list(payload, "items", "items")
    inclusive = _has_compensation(r, payload, items)
    rule = _Rule(
        code=r.str(payload, "coupon_code", "coupon_code", required=False),
        title=r.str(payload, "discount_description", "discount_description", required=False),
    )
    order = CanonicalOrder(
        external_id=r.str(payload, "entity_id", "entity_id"),
        order_number=r.str(payload, "increment_id", "increment_id", required=False),
        currency=r.str(payload, "order_currency_code", "order_currency_code").upper(),
        placed_at=r.datetime(payload, "created_at", "created_at"),  # type: ignore[arg-type]
        source_updated_at=r.datetime(payload, "updated_at", "updated_at", required=False),
        prices_include_tax=inclusive,
        lines=_lines(r, items, inclusive, rule),
        shipping_lines=_shipping(r, payload, inclusive, rule),
        payments=_payments(r, payload),
        channel_total=r.amount(payload, "grand_total", "grand_total"),
        channel_status=r.str(payload, "status", "status", required=False),
        metadata=leftovers(payload, MAPPED, PERSONAL),
    )
    _share_unbooked_discount(r, payload, order, rule)
    order.cancelled = r.str(payload, "state", "state", required=False) == "canceled"
    order.customer_email, order.customer_ref = mask_email(
        r.str(payload, "customer_email", "customer_email", required=False)
    )
    order.payment_state = payment_state(order.channel_status, UNPAID)
    r.finish()
    return order


DELIVERIES = Deliveries()
