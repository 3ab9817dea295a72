"""What returns tells the other apps: the payloads of its events (`retailsync.core.contracts`).
Money is `Decimal` in the return's `currency`."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from retailsync.core.contracts import contract


@dataclass(frozen=True, slots=True)
class ReceivedLine:
    line_id: int  # the return line
    sku: str
    quantity: int
    location: str


@contract("return.received")
@dataclass(frozen=True, slots=True)
class ReturnReceived:
    return_id: int
    order_id: int
    location: str
    lines: tuple[ReceivedLine, ...]


@dataclass(frozen=True, slots=True)
class TaxReversal:
    tax_line_id: int
    jurisdiction: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class RefundedLine:
    order_line_id: int
    quantity: int
    amount: Decimal
    tax: Decimal
    restocking_fee: Decimal


@contract("return.refunded")
@dataclass(frozen=True, slots=True)
class ReturnRefunded:
    return_id: int
    order_id: int
    channel: str
    currency: str
    amount: Decimal
    goods: Decimal
    tax: Decimal
    shipping: Decimal
    restocking_fee: Decimal
    exchange_credit: Decimal
    exchange_due: Decimal
    method: str
    provisional: bool
    liability: bool  # store credit or a gift card: owed to the customer still
    tax_reversals: tuple[TaxReversal, ...]
    lines: tuple[RefundedLine, ...]


@contract("return.closed")
@dataclass(frozen=True, slots=True)
class ReturnClosed:
    return_id: int
    order_id: int
    channel: str
    currency: str
    refund_amount: Decimal
    refund_tax: Decimal
    refund_shipping: Decimal
    restocking_fee: Decimal
    method: str
