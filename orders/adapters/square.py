"""Square Orders API (POS): the Order from RetrieveOrder, bare or wrapped as `{"order": {...}}`.

Square has already shared every discount and tax out to the lines (`applied_discounts`,
`applied_taxes`, one entry per order-level `discounts[]` / `taxes[]` uid), so nothing is
allocated here; the order's own lists only give the names and rates. Money is integer minor units
in the currency of `total_money`. A tax is ADDITIVE (added to the price) or INCLUSIVE (inside it):
the order is `prices_include_tax` when every tax on it is INCLUSIVE. Rates are fractions
(`"8.5"` percent -> 0.085), as Shopify sends them.

Square keeps SKUs on catalog variations, not on order lines. The SKU is the line's `metadata.sku`
when the POS puts it there, else the catalog variation id (`catalog_object_id`), which a retailer
uses as its SKU cross-reference; an ad-hoc line with neither has no SKU and is refused (422). The unit price includes the line's modifiers (an extra
shot), because `gross_sales_money` and the order total do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from retailsync.core.money import is_currency

from .base import (
    ZERO,
    CanonicalOrder,
    Deliveries,
    DiscountAllocation,
    Fee,
    Line,
    Payment,
    Reader,
    TaxLine,
    payment_state,
)
from .personal import leftovers

# Square's order states (OPEN, COMPLETED, CANCELED, DRAFT) say nothing of payment.
UNPAID = frozenset[str]()

MAPPED = {
    "id",
    "location_id",
    "state",
    "created_at",
    "updated_at",
    "line_items",
    "taxes",
    "discounts",
    "service_charges",
    "tenders",
    "rounding_adjustment",
    "total_money",
    "total_tax_money",
    "total_discount_money",
    "total_tip_money",
    "total_service_charge_money",
}
LINE_MAPPED = {
    "uid",
    "name",
    "quantity",
    "item_type",
    "base_price_money",
    "applied_discounts",
    "applied_taxes",
    "total_discount_money",
    "total_tax_money",
}
# Tenders Square itself processes, so they reach a Square payout; cash, checks and other
# terminals (CASH, OTHER, EXTERNAL, NO_SALE) never do.
SQUARE_PROCESSED = frozenset(
    {"CARD", "SQUARE_GIFT_CARD", "WALLET", "BUY_NOW_PAY_LATER", "SQUARE_ACCOUNT", "BANK_ACCOUNT"}
)


class _Money:
    """Reads `{amount, currency}` in the order's currency; an unknown currency is reported once
    (on `total_money.currency`), not again on every amount."""

    def __init__(self, r: Reader, currency: str):
        self.r = r
        self.currency = currency
        self.known = is_currency(currency)

    def __call__(self, data: Any, key: str, path: str, *, required: bool = False) -> Decimal:
        value = data.get(key) if isinstance(data, Mapping) else None
        if value is None and not required:
            return ZERO
        return self.r.minor(value, path, self.currency) if self.known else ZERO


# Where an applied discount or tax lives on a line or service charge: the list of applications,
# the key naming the order-level definition, the item's own total.
APPLIED = {
    "discount": ("applied_discounts", "discount_uid", "total_discount_money"),
    "tax": ("applied_taxes", "tax_uid", "total_tax_money"),
}


def _applied(
    money: _Money, item: Any, path: str, kind: str, defined: Mapping[str, Any]
) -> list[tuple[Decimal, Any]]:
    """(amount, definition) per applied discount or tax. The per-entry amounts are trusted when
    they add up to the item's own total; otherwise the total alone, unnamed, since that is what
    Square charged."""
    key, uid_key, total_key = APPLIED[kind]
    applied = []
    for j, entry in enumerate(money.r.list(item, key, f"{path}.{key}", required=False)):
        uid = entry.get(uid_key) if isinstance(entry, Mapping) else None
        amount = money(entry, "applied_money", f"{path}.{key}[{j}].applied_money", required=True)
        applied.append((amount, defined.get(uid) if isinstance(uid, str) else None))
    if not isinstance(item, Mapping) or item.get(total_key) is None:
        return applied
    total = money(item, total_key, f"{path}.{total_key}")
    if sum((amount for amount, _ in applied), ZERO) == total:
        return applied
    return [(total, None)] if total else []


def _tax_lines(applied: list[tuple[Decimal, Any]]) -> list[TaxLine]:
    return [replace(tax or TaxLine(ZERO), amount=amount) for amount, tax in applied]


def _unit_price(money: _Money, r: Reader, item: Any, path: str) -> Decimal:
    unit = money(item, "base_price_money", f"{path}.base_price_money", required=True)
    for j, modifier in enumerate(r.list(item, "modifiers", f"{path}.modifiers", required=False)):
        mpath = f"{path}.modifiers[{j}]"
        each = money(modifier, "base_price_money", f"{mpath}.base_price_money")
        has_quantity = isinstance(modifier, Mapping) and modifier.get("quantity") is not None
        unit += each * (
            r.quantity(modifier, "quantity", f"{mpath}.quantity") if has_quantity else 1
        )
    return unit


def _line(
    money: _Money,
    r: Reader,
    item: Any,
    path: str,
    discounts: Mapping[str, str],
    taxes: Mapping[str, TaxLine],
) -> Line:
    return Line(
        sku=_sku(item),
        quantity=r.quantity(item, "quantity", f"{path}.quantity"),
        unit_price=_unit_price(money, r, item, path),
        external_id=r.str(item, "uid", f"{path}.uid", required=False),
        name=r.str(item, "name", f"{path}.name", required=False),
        discounts=[
            DiscountAllocation(amount, title=name or "")
            for amount, name in _applied(money, item, path, "discount", discounts)
        ],
        tax_lines=_tax_lines(_applied(money, item, path, "tax", taxes)),
        is_gift_card=isinstance(item, Mapping) and item.get("item_type") == "GIFT_CARD",
        metadata=leftovers(item, LINE_MAPPED) if isinstance(item, Mapping) else {},
    )


def _sku(item: Any) -> str:
    if not isinstance(item, Mapping):
        return ""
    metadata = item.get("metadata")
    if isinstance(metadata, Mapping) and isinstance(metadata.get("sku"), str):
        return str(metadata["sku"])
    variation = item.get("catalog_object_id")
    return variation if isinstance(variation, str) else ""


def _fraction(r: Reader, data: Any, key: str, path: str) -> Decimal | None:
    """A percentage (`"8.5"`) as a fraction (0.085), or None where the source gives none."""
    if not isinstance(data, Mapping) or data.get(key) is None:
        return None
    return r.amount(data, key, path) / 100


def _defined_taxes(r: Reader, order: Mapping[str, Any]) -> tuple[dict[str, TaxLine], bool]:
    """The order's taxes by uid, and whether prices include tax (every tax INCLUSIVE)."""
    taxes: dict[str, TaxLine] = {}
    kinds = []
    for k, tax in enumerate(r.list(order, "taxes", "taxes", required=False)):
        path = f"taxes[{k}]"
        kinds.append(r.str(tax, "type", f"{path}.type", required=False))
        taxes[r.str(tax, "uid", f"{path}.uid", required=False)] = TaxLine(
            amount=ZERO,
            title=r.str(tax, "name", f"{path}.name", required=False),
            rate=_fraction(r, tax, "percentage", f"{path}.percentage"),
            provider_reference=r.str(
                tax, "catalog_object_id", f"{path}.catalog_object_id", required=False
            ),
        )
    return taxes, bool(kinds) and all(kind == "INCLUSIVE" for kind in kinds)


def _fees(
    money: _Money, r: Reader, order: Mapping[str, Any], taxes: Mapping[str, TaxLine]
) -> list[Fee]:
    fees = []
    for k, charge in enumerate(r.list(order, "service_charges", "service_charges", required=False)):
        path = f"service_charges[{k}]"
        has_applied = isinstance(charge, Mapping) and charge.get("applied_money") is not None
        key = "applied_money" if has_applied else "amount_money"
        fees.append(
            Fee(
                kind="service_charge",
                amount=money(charge, key, f"{path}.{key}", required=True),
                title=r.str(charge, "name", f"{path}.name", required=False),
                tax_lines=_tax_lines(_applied(money, charge, path, "tax", taxes)),
            )
        )
    tip = money(order, "total_tip_money", "total_tip_money")
    if tip:
        fees.append(Fee(kind="tip", amount=tip, title="Tip"))
    rounding = r.obj(order, "rounding_adjustment", "rounding_adjustment", required=False)
    adjustment = money(rounding, "amount_money", "rounding_adjustment.amount_money")
    if adjustment:
        title = r.str(rounding, "name", "rounding_adjustment.name", required=False)
        fees.append(Fee(kind="fee", amount=adjustment, title=title or "Rounding adjustment"))
    return fees


def _payment(money: _Money, r: Reader, tender: Any, path: str) -> Payment:
    """A tender's amount includes its tip."""
    kind = r.str(tender, "type", f"{path}.type")
    tip = money(tender, "tip_money", f"{path}.tip_money")
    return Payment(
        gateway="square" if kind in SQUARE_PROCESSED else kind.lower(),
        amount=money(tender, "amount_money", f"{path}.amount_money", required=True),
        reference=r.str(tender, "payment_id", f"{path}.payment_id", required=False)
        or r.str(tender, "id", f"{path}.id", required=False),
        kind="gift_card" if kind == "SQUARE_GIFT_CARD" else "sale",
        method=kind,
        metadata={"tip": tip} if tip else {},
    )


def parse(payload: Any, headers: Mapping[str, str]) -> CanonicalOrder:
    r = Reader()
    if isinstance(payload, Mapping) and isinstance(payload.get("order"), Mapping):
        payload = payload["order"]
    if not isinstance(payload, Mapping):
        r.fail("", "an order must be a JSON object")
        r.finish()
    total_money = r.obj(payload, "total_money", "total_money")
    currency = r.str(
        total_money, "currency", "total_money.currency", required=bool(total_money)
    ).upper()
    if currency and not is_currency(currency):
        r.fail("total_money.currency", f"unknown currency {currency!r}: minor units unreadable")
    money = _Money(r, currency)
    discounts = {
        d["uid"]: str(d.get("name") or "")
        for d in r.list(payload, "discounts", "discounts", required=False)
        if isinstance(d, Mapping) and isinstance(d.get("uid"), str)
    }
    taxes, inclusive = _defined_taxes(r, payload)
    lines = [
        _line(money, r, item, f"line_items[{i}]", discounts, taxes)
        for i, item in enumerate(r.list(payload, "line_items", "line_items"))
    ]
    order = CanonicalOrder(
        external_id=r.str(payload, "id", "id"),
        currency=currency,
        placed_at=r.datetime(payload, "created_at", "created_at"),  # type: ignore[arg-type]
        source_updated_at=r.datetime(payload, "updated_at", "updated_at", required=False),
        prices_include_tax=inclusive,
        lines=lines,
        fees=_fees(money, r, payload, taxes),
        payments=[
            _payment(money, r, tender, f"tenders[{i}]")
            for i, tender in enumerate(r.list(payload, "tenders", "tenders", required=False))
        ],
        channel_total=money(payload, "total_money", "total_money") if total_money else None,
        channel_status=r.str(payload, "state", "state", required=False),
        fulfilment_location=r.str(payload, "location_id", "location_id"),
        metadata=leftovers(payload, MAPPED),
    )
    order.cancelled = order.channel_status == "CANCELED"
    order.payment_state = payment_state(order.channel_status, UNPAID)
    r.finish()
    return order


DELIVERIES = Deliveries(kept_headers=("X-Square-Hmacsha256-Signature",))
