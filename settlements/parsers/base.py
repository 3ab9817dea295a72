"""What every settlement or bank file parser yields, and how it says a file cannot be trusted.

A parser is a module in this package with one function, `parse(stream, *, options)`: it reads a
binary stream (never the whole file at once: a 200 MB file is read a record at a time) and yields
`ParsedBatch` and `ParsedLine` records in file order. A batch is announced before or after its
lines (Adyen's payout row comes last); the loader keys lines to batches by `batch_key`.

Anything that makes the file untrustworthy raises `ParseError(row, reason)`: bytes that are not
the file's encoding, a row that does not parse, a truncated file (a trailer missing), control
totals that disagree with the rows. The loader keeps nothing from such a file.

Amounts are `Decimal`, signed from the merchant's side (API.md): money in is positive; fees,
refunds, chargebacks and payouts out of the provider balance are negative. For a line,
`net = gross + fee` where `fee` is negative for a fee charged and positive for one given back
(a refund's returned commission, a fee reversal). Bank lines: credits positive, debits
negative, `gross == net`, `fee == 0`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Protocol


class LineKind(enum.StrEnum):
    CHARGE = "charge"
    REFUND = "refund"
    FEE = "fee"
    CHARGEBACK = "chargeback"
    CHARGEBACK_REVERSAL = "chargeback_reversal"
    ADJUSTMENT = "adjustment"
    RESERVE_HOLD = "reserve_hold"
    RESERVE_RELEASE = "reserve_release"
    COMMISSION = "commission"  # marketplace commission
    SHIPPING = "shipping"
    TAX = "tax"
    PROMOTION = "promotion"
    ADVERTISING = "advertising"
    PAYOUT = "payout"  # the transfer to the bank, as the provider's file shows it
    DEPOSIT = "deposit"  # bank statement: a credit
    WITHDRAWAL = "withdrawal"  # bank statement: a debit
    OTHER = "other"


class ParseError(ValueError):
    """The file cannot be trusted; `row` is the 1-based line (or record) number, 0 for the
    file as a whole."""

    def __init__(self, row: int, reason: str) -> None:
        super().__init__(f"row {row}: {reason}" if row else reason)
        self.row = row
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    """A payout (provider file) or a statement (bank file)."""

    key: str  # payout id, settlement id, batch number, statement id
    currency: str  # upper-case ISO 4217
    payout_amount: Decimal | None = None  # what the provider says it pays out (signed)
    period_start: date | None = None
    period_end: date | None = None
    deposit_date: date | None = None
    opening_balance: Decimal | None = None  # bank statements
    closing_balance: Decimal | None = None  # bank statements
    account: str = ""  # bank statements: the account (IBAN or number)


@dataclass(slots=True)  # not frozen: a frozen dataclass costs a third of the parse per row
class ParsedLine:
    row: int  # 1-based line number of the record in the file
    batch_key: str
    # Unique per provider across files, stable when the same record comes again in another
    # (overlapping) file: the provider's transaction id where it has one, else a hash of the
    # record's identifying fields.
    line_key: str
    kind: LineKind
    currency: str  # upper-case ISO 4217
    gross: Decimal
    fee: Decimal
    net: Decimal
    posted_at: datetime | None  # aware
    order_ref: str = ""  # marketplace order id / merchant order reference / invoice id
    payment_ref: str = ""  # charge id, PSP reference, payment intent, PayPal transaction id
    related_ref: str = ""  # for refunds/chargebacks: the original payment's reference
    payment_method: str = ""  # visa, mc, card, paypal, ...
    description: str = ""  # amount-description, reporting category, T-code, remittance text
    raw: str = ""  # the record's text as the file has it (no trailing newline)
    extra: Mapping[str, str] = field(default_factory=dict)  # e.g. sku, marketplace, card brand


Record = ParsedBatch | ParsedLine


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """The generic CSV's shape, configured once per provider in the admin."""

    columns: Mapping[str, str]  # our field name → the file's header; see parsers.generic
    date_format: str = "%Y-%m-%d"
    decimal_separator: str = "."
    # "signed": amounts carry their sign; "negate": the file's signs are the customer's
    # side; "direction": a column (mapped as "direction") says CR/DR.
    sign_convention: str = "signed"
    delimiter: str = ","
    currency: str = ""  # when the file has no currency column


class Parser(Protocol):
    def __call__(
        self, stream: IO[bytes], *, options: ColumnMapping | None = None
    ) -> Iterator[Record]: ...
