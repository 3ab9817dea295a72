"""Business rules every canonical order must meet, whatever channel it came from (422 when not)."""

from __future__ import annotations

from decimal import Decimal

from retailsync.core.errors import FieldError
from retailsync.core.money import is_currency, minor_unit

from .adapters.base import CanonicalOrder

ZERO = Decimal(0)
# What the columns hold: amounts numeric(19, 4), tax rates numeric(9, 6), quantities integer.
# Beyond them the database would refuse the row; the channel is told which field instead.
AMOUNT_LIMIT = Decimal(10) ** 15
RATE_LIMIT = Decimal(1000)
QUANTITY_LIMIT = 2**31 - 1


def _out_of_range(order: CanonicalOrder) -> list[FieldError]:
    """Values too large to store, each named (checked first: nothing else is worth saying)."""
    amounts: list[tuple[str, Decimal | None]] = [
        ("total", order.channel_total),
        ("total", order.computed_total),
    ]
    rates: list[tuple[str, Decimal | None]] = []
    problems: list[FieldError] = []
    for i, line in enumerate(order.lines):
        path = f"lines[{i}]"
        if abs(line.quantity) > QUANTITY_LIMIT:
            problems.append(FieldError(f"{path}.quantity", f"must be at most {QUANTITY_LIMIT:,}"))
            continue
        amounts += [(f"{path}.unit_price", line.unit_price), (f"{path}.unit_price", line.gross)]
        amounts += [(f"{path}.discount", d.amount) for d in line.discounts]
        amounts += [(f"{path}.tax", t.amount) for t in line.tax_lines]
        rates += [(f"{path}.tax", t.rate) for t in line.tax_lines]
    for i, ship in enumerate(order.shipping_lines):
        path = f"shipping_lines[{i}]"
        amounts += [(f"{path}.amount", ship.amount)]
        amounts += [(f"{path}.discount", d.amount) for d in ship.discounts]
        amounts += [(f"{path}.tax", t.amount) for t in ship.tax_lines]
        rates += [(f"{path}.tax", t.rate) for t in ship.tax_lines]
    amounts += [(f"fees[{i}].amount", f.amount) for i, f in enumerate(order.fees)]
    amounts += [(f"fees[{i}].tax", f.tax) for i, f in enumerate(order.fees)]
    for i, payment in enumerate(order.payments):
        amounts += [
            (f"payments[{i}].amount", payment.amount),
            (f"payments[{i}].amount", payment.authorized_amount),
            (f"payments[{i}].amount", payment.captured_amount),
        ]
    for values, limit in ((amounts, AMOUNT_LIMIT), (rates, RATE_LIMIT)):
        for field, value in values:
            if value is not None and abs(value) >= limit:
                problems.append(FieldError(field, f"must be less than {limit:,} in size"))
    # One message per field, in order.
    return list({p.field: p for p in problems}.values())


def order_problems(order: CanonicalOrder) -> list[FieldError]:
    """Every problem, not just the first: the caller fixes them in one go."""
    problems = _out_of_range(order)
    if problems:
        return problems

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
