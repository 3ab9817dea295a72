"""Business rules every canonical order must meet, whatever channel it came from (422 when not)."""

from __future__ import annotations

from decimal import Decimal

from retailsync.errors import FieldError
from retailsync.money import is_currency, minor_unit

from .adapters.base import CanonicalOrder

ZERO = Decimal(0)


def order_problems(order: CanonicalOrder) -> list[FieldError]:
    """Every problem, not just the first: the caller fixes them in one go."""
    problems: list[FieldError] = []

    def add(field: str, message: str) -> None:
        problems.append(FieldError(field, message))

    if not order.external_id.strip():
        add("external_id", "is required")
    currency_known = is_currency(order.currency)
    if not currency_known:
        add("currency", f"{order.currency!r} is not an ISO 4217 currency")
    if not order.lines:
        add("lines", "an order needs at least one line")
    for i, line in enumerate(order.lines):
        path = f"lines[{i}]"
        # A gift card sold is a liability, not stock: channels send it without a SKU.
        if not line.sku.strip() and not line.is_gift_card:
            add(f"{path}.sku", "is required")
        if line.quantity <= 0:
            add(f"{path}.quantity", f"must be positive, not {line.quantity}")
        if line.unit_price < 0:
            add(f"{path}.unit_price", "must not be negative")
        if any(d.amount < 0 for d in line.discounts):
            add(f"{path}.discount", "must not be negative")
        elif line.quantity > 0 and line.discount > line.gross:
            add(f"{path}.discount", f"{line.discount} exceeds the line's {line.gross}")
        if any(t.amount < 0 for t in line.tax_lines):
            add(f"{path}.tax", "must not be negative")
    for i, ship in enumerate(order.shipping_lines):
        path = f"shipping_lines[{i}]"
        if ship.amount < 0:
            add(f"{path}.amount", "must not be negative")
        if any(d.amount < 0 for d in ship.discounts) or ship.discount > ship.amount:
            add(f"{path}.discount", "must be between 0 and the shipping amount")
        if any(t.amount < 0 for t in ship.tax_lines):
            add(f"{path}.tax", "must not be negative")
    for i, fee in enumerate(order.fees):
        if fee.amount < 0 or fee.tax < 0:
            add(f"fees[{i}].amount", "must not be negative")
    for i, payment in enumerate(order.payments):
        if payment.amount < 0:
            add(f"payments[{i}].amount", "must not be negative")
    # One minor unit of slack: channels round per line, we add exact amounts.
    if (
        currency_known
        and order.channel_total is not None
        and abs(order.computed_total - order.channel_total) > minor_unit(order.currency)
    ):
        add(
            "total",
            f"lines, discounts, shipping, fees and tax add up to {order.computed_total:f}, "
            f"but the order total is {order.channel_total:f}",
        )
    return problems
