"""The canonical order as plain data: what every source adapter produces, and nothing else.

Adapters know one channel's format and no ORM. They turn a parsed JSON payload (parsed with
`parse_float=Decimal`, so no amount ever passes through float) into a `CanonicalOrder`, or raise
`MalformedPayload` naming every field they could not read. Business rules (totals that must add
up, known currencies, positive quantities, SKUs present) are checked later, in
`orders.validation`, the same way for every source.

Amounts are in the order's currency, as the channel sent them, not rounded.

Everything else that is one channel's knowledge is said by its module's `DELIVERIES`:
which headers of its deliveries identify a message, whether a body is a ping rather than an
order, and (in `parse`) which of its statuses mean the order is not paid yet.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from retailsync.core.errors import FieldError
from retailsync.core.money import from_minor, parse_amount

ZERO = Decimal(0)

# The canonical payment state of an order (`CanonicalOrder.payment_state`): inventory lets the
# reservations of an unpaid order expire, whatever the channel calls that state.
PAID, UNPAID = "paid", "unpaid"


class MalformedPayload(Exception):
    """The payload is not the shape the source sends: a required field missing or unreadable."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


@dataclass(slots=True)
class TaxLine:
    amount: Decimal
    title: str = ""
    rate: Decimal | None = None
    jurisdiction: str = ""
    provider_reference: str = ""
    # True when the marketplace collects and remits this tax (Amazon's MarketplaceFacilitator).
    collected_by_channel: bool = False


@dataclass(slots=True)
class DiscountAllocation:
    amount: Decimal
    code: str = ""
    title: str = ""


@dataclass(slots=True)
class Line:
    sku: str
    quantity: int
    unit_price: Decimal
    external_id: str = ""
    name: str = ""
    discounts: list[DiscountAllocation] = field(default_factory=list)
    tax_lines: list[TaxLine] = field(default_factory=list)
    is_gift_card: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def discount(self) -> Decimal:
        return sum((d.amount for d in self.discounts), ZERO)

    @property
    def tax(self) -> Decimal:
        return sum((t.amount for t in self.tax_lines), ZERO)

    @property
    def gross(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(slots=True)
class ShippingLine:
    amount: Decimal
    title: str = ""
    code: str = ""
    discounts: list[DiscountAllocation] = field(default_factory=list)
    tax_lines: list[TaxLine] = field(default_factory=list)

    @property
    def discount(self) -> Decimal:
        return sum((d.amount for d in self.discounts), ZERO)

    @property
    def tax(self) -> Decimal:
        return sum((t.amount for t in self.tax_lines), ZERO)


@dataclass(slots=True)
class Fee:
    """A charge to the customer that is neither goods nor shipping: tip, service charge, COD fee,
    gift wrap, a WooCommerce fee line."""

    kind: str
    amount: Decimal
    title: str = ""
    tax_lines: list[TaxLine] = field(default_factory=list)

    @property
    def tax(self) -> Decimal:
        return sum((t.amount for t in self.tax_lines), ZERO)


@dataclass(slots=True)
class Payment:
    gateway: str
    amount: Decimal
    reference: str = ""  # the PSP's charge / payment / transaction id
    kind: str = "sale"  # sale, authorization, capture, gift_card, store_credit
    method: str = ""
    authorized_amount: Decimal | None = None
    captured_amount: Decimal | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class CanonicalOrder:
    external_id: str
    currency: str
    placed_at: datetime
    lines: list[Line]
    order_number: str = ""
    prices_include_tax: bool = False
    shipping_lines: list[ShippingLine] = field(default_factory=list)
    fees: list[Fee] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    # What the channel says the customer was charged; None when the channel does not say yet
    # (an Amazon order while Pending).
    channel_total: Decimal | None = None
    channel_status: str = ""
    payment_state: str = PAID  # PAID or UNPAID, as the adapter reads the channel's status
    cancelled: bool = False
    source_updated_at: datetime | None = None
    fulfilment_location: str = ""
    customer_email: str = ""
    customer_ref: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    # --- canonical amounts (API.md "Canonical amounts") ---
    @property
    def subtotal(self) -> Decimal:
        return sum((line.gross for line in self.lines), ZERO)

    @property
    def discount(self) -> Decimal:
        return sum((line.discount for line in self.lines), ZERO) + sum(
            (s.discount for s in self.shipping_lines), ZERO
        )

    @property
    def shipping(self) -> Decimal:
        return sum((s.amount for s in self.shipping_lines), ZERO)

    @property
    def fees_total(self) -> Decimal:
        return sum((f.amount for f in self.fees), ZERO)

    @property
    def tax(self) -> Decimal:
        return (
            sum((line.tax for line in self.lines), ZERO)
            + sum((s.tax for s in self.shipping_lines), ZERO)
            + sum((f.tax for f in self.fees), ZERO)
        )

    @property
    def computed_total(self) -> Decimal:
        total = self.subtotal - self.discount + self.shipping + self.fees_total
        return total if self.prices_include_tax else total + self.tax

    @property
    def total(self) -> Decimal:
        """What the customer was charged: the channel's own figure where it gives one."""
        return self.channel_total if self.channel_total is not None else self.computed_total

    def line_total(self, line: Line) -> Decimal:
        total = line.gross - line.discount
        return total if self.prices_include_tax else total + line.tax


# --- helpers for adapters: read a field or record why not ---------------------------------


def _get(data: Any, key: builtins.str) -> Any:
    """`data[key]` if `data` is an object, else None. A dict (what JSON gives) is tested for
    first: an ABC's isinstance is the slowest step of reading a field, and adapters read dozens
    per order."""
    if type(data) is dict or isinstance(data, Mapping):
        return data.get(key)
    return None


class Reader:
    """Collects every problem in a payload instead of stopping at the first.

    `r.amount(obj, "total_price", "total_price")` returns a Decimal or records an error and
    returns zero; `r.finish()` raises `MalformedPayload` with everything recorded.
    """

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, path: builtins.str, message: builtins.str) -> None:
        self.errors.append(FieldError(path, message))

    def finish(self) -> None:
        if self.errors:
            raise MalformedPayload(self.errors)

    def obj(
        self, data: Any, key: builtins.str, path: builtins.str, *, required: bool = True
    ) -> dict[str, Any]:
        value = _get(data, key)
        if isinstance(value, dict):
            return value
        if value is not None or required:
            self.fail(path, "must be an object" if value is not None else "is required")
        return {}

    def list(
        self, data: Any, key: builtins.str, path: builtins.str, *, required: bool = True
    ) -> list[Any]:
        value = _get(data, key)
        if isinstance(value, list):
            return value
        if value is not None or required:
            self.fail(path, "must be a list" if value is not None else "is required")
        return []

    def str(
        self, data: Any, key: builtins.str, path: builtins.str, *, required: bool = True
    ) -> builtins.str:
        value = _get(data, key)
        if value is None:
            if required:
                self.fail(path, "is required")
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.fail(path, "must be a string")
            return ""
        return str(value)

    def amount(
        self,
        data: Any,
        key: builtins.str,
        path: builtins.str,
        *,
        required: bool = True,
        default: Decimal = ZERO,
    ) -> Decimal:
        value = _get(data, key)
        if value is None:
            if required:
                self.fail(path, "is required")
            return default
        try:
            return parse_amount(value)
        except ValueError as exc:
            self.fail(path, str(exc))
            return default

    def minor(
        self, money: Any, path: builtins.str, currency: builtins.str, *, required: bool = True
    ) -> Decimal:
        """A `{amount: int minor units, currency}` object (Square, Stripe)."""
        if money is None:
            if required:
                self.fail(path, "is required")
            return ZERO
        units = money.get("amount") if isinstance(money, Mapping) else None
        if isinstance(units, bool) or not isinstance(units, int):
            self.fail(f"{path}.amount", "must be an integer number of minor units")
            return ZERO
        try:
            return from_minor(units, currency)
        except ValueError as exc:
            self.fail(path, str(exc))
            return ZERO

    def quantity(self, data: Any, key: builtins.str, path: builtins.str) -> int:
        value = _get(data, key)
        if isinstance(value, bool) or value is None:
            self.fail(path, "is required" if value is None else "must be a whole number")
            return 0
        try:
            number = Decimal(str(value))
        except ArithmeticError:
            self.fail(path, "must be a whole number")
            return 0
        if number != number.to_integral_value():
            self.fail(path, "must be a whole number")
            return 0
        return int(number)

    def datetime(
        self,
        data: Any,
        key: builtins.str,
        path: builtins.str,
        *,
        required: bool = True,
        naive_is_utc: bool = True,
    ) -> datetime | None:
        value = _get(data, key)
        if value is None:
            if required:
                self.fail(path, "is required")
            return None
        parsed = parse_datetime(value, naive_is_utc=naive_is_utc)
        if parsed is None:
            self.fail(path, "must be an ISO 8601 timestamp")
        return parsed


def parse_datetime(value: Any, *, naive_is_utc: bool = True) -> datetime | None:
    """ISO 8601 with offset, `Z`, or Magento's `YYYY-MM-DD HH:MM:SS` (UTC) to an aware datetime."""
    if not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        if not naive_is_utc:
            return None
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def payment_state(channel_status: str, unpaid: frozenset[str]) -> str:
    """UNPAID when the channel's status is one of its `unpaid` statuses, else PAID."""
    return UNPAID if channel_status in unpaid else PAID


__all__ = ["FieldError"]  # adapters report problems in the core's error vocabulary

Adapter = Callable[[Any, Mapping[str, str]], CanonicalOrder]


def never_a_ping(content_type: str, body: bytes) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Deliveries:
    """How one source's deliveries say what they are (its adapter module's `DELIVERIES`).

    The integration core stores every delivery before anything reads it and names no channel:
    the headers here are what it is told, at start-up, to read a source's message id (the
    first present wins; the core's generic `X-Message-Id` and `Idempotency-Key` come after)
    and topic from, and to keep with the message.
    """

    message_id_headers: tuple[builtins.str, ...] = ()
    topic_headers: tuple[builtins.str, ...] = ()
    kept_headers: tuple[builtins.str, ...] = ()
    # (content type, body) -> True for a delivery that only checks the endpoint answers.
    is_ping: Callable[[builtins.str, bytes], bool] = never_a_ping
