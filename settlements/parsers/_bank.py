"""What the bank statement parsers (camt053, bank_bai2, bank_mt940, bank_csv) share.

Bank lines are signed from the account holder's side: a credit is a positive DEPOSIT, a debit a
negative WITHDRAWAL, `gross == net`, `fee == 0`, `posted_at` the booking date at UTC midnight.

Line keys must survive overlapping statements (the same entry in Monday's and in the weekly
file): the bank's own entry reference where the format has one, prefixed with the account;
otherwise a hash of account, booking date, direction, amount and the entry's reference text,
plus a counter for identical entries. The counter runs per statement, and the booking date is in
the hash, so two statements that each hold a whole day number that day's twins alike.

Text is UTF-8 (a leading byte-order mark is dropped): bytes that are not, and NUL characters
(PostgreSQL text cannot hold them), are refused with the line they are on.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import IO

from retailsync.core.money import is_currency, minor_unit

from .base import LineKind, ParsedLine, ParseError

MAX_LINE_BYTES = 64 * 1024  # no bank format has lines near this; a longer one is not text
# What the line model stores (19 digits, 4 of them decimals).
_AMOUNT_LIMIT = Decimal(10) ** 15


def read_lines(stream: IO[bytes], *, max_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without its line ending), one line in memory at a time."""
    number = 0
    while True:
        raw = stream.readline(max_bytes + 1)
        if not raw:
            return
        number += 1
        if len(raw) > max_bytes:
            raise ParseError(number, f"line longer than {max_bytes} bytes: not a statement file")
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        yield number, decode(raw, number).rstrip("\r\n")


def decode(raw: bytes, row: int) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start]
        row += raw[: exc.start].count(b"\n")
        raise ParseError(row, f"not UTF-8 text: byte 0x{bad:02x}") from None
    if "\x00" in text:
        raise ParseError(row, "NUL character in the text")
    return text


def currency_code(value: str | None, row: int) -> str:
    code = (value or "").strip().upper()
    if not is_currency(code):
        raise ParseError(row, f"unknown currency {value!r}")
    return code


def money(value: str | Decimal, currency: str, row: int, what: str = "amount") -> Decimal:
    """A decimal amount in `currency`, exact to its minor unit: more decimals than the currency
    has (10.001 EUR) is refused, not rounded."""
    try:
        amount = Decimal(value.strip()) if isinstance(value, str) else value
        exact = amount.quantize(minor_unit(currency))
    except (InvalidOperation, ValueError):
        raise ParseError(row, f"{what} {value!r} is not a decimal amount") from None
    if exact != amount:
        raise ParseError(row, f"{what} {value!r} has more decimals than {currency} has")
    if abs(exact) >= _AMOUNT_LIMIT:
        raise ParseError(row, f"{what} {value!r} is too large")
    return exact


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def check_identity(
    row: int,
    what: str,
    currency: str,
    opening: Decimal | None,
    entries: Decimal,
    closing: Decimal | None,
) -> None:
    """opening + Σ entries = closing, where the statement gives both balances.

    A statement that does not add up is refused, as any file whose own totals disagree with its
    rows (issue 11: such a file leaves nothing behind). formats.md §8a warns that real test files
    may not reconcile; that is exactly the file we must not half-believe, so the refusal names
    both figures for finance to take to the bank.
    """
    if opening is None or closing is None or opening + entries == closing:
        return
    raise ParseError(
        row,
        f"{what}: opening balance {opening} {currency} + entries {entries} = "
        f"{opening + entries}, but the closing balance is {closing}",
    )


def join_wrapped(parts: Iterable[str], width: int, first_width: int | None = None) -> str:
    """Join a field the format splits into fixed-width pieces (MT940 lines of 65, camt Ustrd of
    140): a piece that fills its width was cut mid-text and is glued to the next, so a payout
    id split by the bank comes back whole; shorter pieces end a phrase and take a space. The
    first piece is full at `first_width` when it shares its line with a tag some banks count."""
    text = ""
    limit = width if first_width is None else first_width
    full = False  # the piece before filled its line: cut mid-text
    for part in parts:
        if not part:
            continue
        text += ("" if not text or full else " ") + part
        full, limit = len(part) >= limit, width
    return text.strip()


class LineKeys:
    """Line keys for one statement; see the module docstring."""

    def __init__(self, account: str) -> None:
        self.account = account
        self._seen: Counter[str] = Counter()

    def key(self, *, bank_ref: str, booked: date, amount: Decimal, text: str) -> str:
        if bank_ref:
            base = f"{self.account}:{bank_ref}"
            self._seen[base] += 1
            count = self._seen[base]
            return base if count == 1 else f"{base}#{count}"
        fingerprint = "\x1f".join(
            [self.account, booked.isoformat(), "D" if amount < 0 else "C", f"{abs(amount)}", text]
        )
        self._seen[fingerprint] += 1
        digest = hashlib.sha256(f"{fingerprint}\x1f{self._seen[fingerprint]}".encode())
        return "h:" + digest.hexdigest()[:40]


def bank_line(
    *,
    row: int,
    batch_key: str,
    line_key: str,
    credit: bool,
    amount: Decimal,
    currency: str,
    booked: date,
    payment_ref: str = "",
    related_ref: str = "",
    description: str = "",
    raw: str = "",
    extra: Mapping[str, str] | None = None,
) -> ParsedLine:
    return ParsedLine(
        row=row,
        batch_key=batch_key,
        line_key=line_key,
        kind=LineKind.DEPOSIT if credit else LineKind.WITHDRAWAL,
        currency=currency,
        gross=amount,
        fee=Decimal(0),
        net=amount,
        posted_at=midnight(booked),
        order_ref="",
        payment_ref=payment_ref,
        related_ref=related_ref,
        description=description,
        raw=raw,
        extra=dict(extra or {}),
    )
