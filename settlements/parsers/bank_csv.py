"""A bank's CSV export: our documented shape, or the bank's own through a ColumnMapping.

The documented shape (a header row, comma-separated, UTF-8):

    date,amount,currency,reference,description[,account][,balance]
    2026-03-02,1523.40,EUR,BR260302001,STRIPE PAYOUT po_1QxYz2AbCdEfGhIjKlMn

- `date`: the booking date, YYYY-MM-DD;
- `amount`: signed from the account holder's side (credits +, debits -), `.` for decimals;
- `currency`: ISO 4217; `reference`: the bank's reference; `description`: the remittance text;
- optional `account` (IBAN or number) and `balance` (the running balance after the row).

With a ColumnMapping (base.py), `columns` maps these names (and `direction`, for the "direction"
sign convention: CR/C/CRDT/CREDIT/H or DR/D/DBIT/DEBIT/S) to the file's headers, compared without
case; `date`, `amount` and `currency` (unless the mapping gives a currency) are required.
Amounts may group thousands with the other separator (`1.234,56` where `,` is the decimal one).

Batches: one per account, booking date and currency (`account:YYYY-MM-DD:CUR`, without
the account when the file has none), yielded after
all the lines (the file can be in any order). With a balance column, every row's balance must
follow from the row before it, oldest-first or newest-first: a row that fits neither refuses the
file, and each day's opening and closing balances come from the chain.

Line keys are always hashes (see _bank): a CSV "reference" is often the payer's text, repeated
from day to day, so it cannot stand alone as an entry's identity.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO

from . import _bank
from .base import ColumnMapping, ParsedBatch, ParseError, Record

FIELDS = ("date", "amount", "currency", "reference", "description", "account", "balance")
DEFAULT_MAPPING = ColumnMapping(columns={name: name for name in FIELDS})
# H and S: Haben and Soll, as German banks write credit and debit.
_CREDIT = {"C", "CR", "CRDT", "CREDIT", "H"}
_DEBIT = {"D", "DR", "DBIT", "DEBIT", "S"}


def parse(stream: IO[bytes], *, options: ColumnMapping | None = None) -> Iterator[Record]:
    mapping = options or DEFAULT_MAPPING
    if mapping.sign_convention not in ("signed", "negate", "direction"):
        raise ParseError(0, f"unknown sign convention {mapping.sign_convention!r}")
    if mapping.decimal_separator not in (".", ","):
        raise ParseError(0, f"decimal separator {mapping.decimal_separator!r}: '.' or ','")
    reader = _Reader(mapping, required=_required(mapping, default=options is None))
    yield from reader.read(stream)


def _required(mapping: ColumnMapping, *, default: bool) -> set[str]:
    required = {"date", "amount"}
    if default:
        required |= {"currency", "reference", "description"}
    if not mapping.currency:
        required.add("currency")
    if mapping.sign_convention == "direction":
        required.add("direction")
    return required


@dataclass
class _Chain:
    """The running balance of one account and currency, as the rows go."""

    previous: tuple[Decimal, Decimal] | None = None  # (balance, amount) of the last row
    oldest_first: bool = True
    newest_first: bool = True


@dataclass
class _Day:
    account: str
    currency: str
    day: date
    keys: _bank.LineKeys
    chain: _Chain
    first: tuple[Decimal, Decimal] | None = None  # (balance, amount), file order
    last: tuple[Decimal, Decimal] | None = None


class _Reader:
    def __init__(self, mapping: ColumnMapping, *, required: set[str]) -> None:
        self.mapping = mapping
        self.required = required
        self.index: dict[str, int] = {}
        self.width = 0
        self.days: dict[str, _Day] = {}
        self.chains: dict[tuple[str, str], _Chain] = {}

    def read(self, stream: IO[bytes]) -> Iterator[Record]:
        consumed: list[str] = []

        def feed() -> Iterator[str]:
            for _number, text in _bank.read_lines(stream):
                consumed.append(text)
                yield text + "\n"

        reader = csv.reader(feed(), delimiter=self.mapping.delimiter, strict=True)
        row = 1
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise ParseError(row, f"not CSV: {exc}") from None
            raw = "\n".join(consumed)
            consumed.clear()
            if any(value.strip() for value in record):
                if not self.index:
                    self._header(record, row)
                else:
                    yield self._line(record, row, raw)
            row = reader.line_num + 1
        if not self.index:
            raise ParseError(0, "empty file: no header row")
        yield from self._batches()

    def _header(self, record: list[str], row: int) -> None:
        positions = {name.strip().casefold(): i for i, name in enumerate(record)}
        for name, header in self.mapping.columns.items():
            if header.strip().casefold() in positions:
                self.index[name] = positions[header.strip().casefold()]
            elif name in self.required:
                raise ParseError(row, f"no {header!r} column (the header is {record!r})")
        self.width = len(record)

    def _line(self, record: list[str], row: int, raw: str) -> Record:
        if len(record) != self.width:
            raise ParseError(row, f"{len(record)} fields, the header has {self.width}")

        def value(name: str) -> str:
            return record[self.index[name]].strip() if name in self.index else ""

        try:
            booked = datetime.strptime(value("date"), self.mapping.date_format).date()
        except ValueError:
            fmt = self.mapping.date_format
            raise ParseError(row, f"date {value('date')!r} is not in the form {fmt}") from None
        currency = _bank.currency_code(value("currency") or self.mapping.currency, row)
        amount = _bank.money(self._number(value("amount"), row), currency, row)
        if self.mapping.sign_convention == "negate":
            amount = -amount
        elif self.mapping.sign_convention == "direction":
            direction = value("direction").upper()
            if direction not in _CREDIT | _DEBIT:
                raise ParseError(row, f"direction {value('direction')!r} is neither CR nor DR")
            amount = abs(amount) if direction in _CREDIT else -abs(amount)
        account = value("account")
        day = self._day(account, currency, booked)
        if "balance" in self.index:
            balance = _bank.money(self._number(value("balance"), row), currency, row, "balance")
            self._follow(day.chain, balance, amount, row)
            day.first = day.first or (balance, amount)
            day.last = (balance, amount)
        reference, description = value("reference"), value("description")
        return _bank.bank_line(
            row=row,
            batch_key=self._key(account, currency, booked),
            line_key=day.keys.key(
                bank_ref="", booked=booked, amount=amount, text=f"{reference} {description}"
            ),
            credit=not amount.is_signed(),
            amount=amount,
            currency=currency,
            booked=booked,
            payment_ref=reference,
            description=description,
            raw=raw,
        )

    def _number(self, text: str, row: int) -> Decimal:
        decimal = self.mapping.decimal_separator
        group = "," if decimal == "." else "."
        compact = text.replace(" ", "").replace("\u00a0", "")
        shape = rf"[+-]?(\d{{1,3}}(\{group}\d{{3}})+|\d+)(\{decimal}\d+)?"
        if not re.fullmatch(shape, compact):
            raise ParseError(row, f"{text!r} is not an amount with {decimal!r} for decimals")
        return Decimal(compact.replace(group, "").replace(decimal, "."))

    @staticmethod
    def _key(account: str, currency: str, booked: date) -> str:
        return ":".join(part for part in (account, booked.isoformat(), currency) if part)

    def _day(self, account: str, currency: str, booked: date) -> _Day:
        key = self._key(account, currency, booked)
        if key not in self.days:
            chain = self.chains.setdefault((account, currency), _Chain())
            self.days[key] = _Day(account, currency, booked, _bank.LineKeys(account), chain)
        return self.days[key]

    @staticmethod
    def _follow(chain: _Chain, balance: Decimal, amount: Decimal, row: int) -> None:
        if chain.previous is not None:
            before, before_amount = chain.previous
            chain.oldest_first &= balance == before + amount
            chain.newest_first &= balance == before - before_amount
            if not (chain.oldest_first or chain.newest_first):
                raise ParseError(
                    row,
                    f"balance {balance} does not follow from the balance {before} before it "
                    f"(oldest first: {before} + {amount} = {before + amount}; newest first: "
                    f"{before} - {before_amount} = {before - before_amount})",
                )
        chain.previous = (balance, amount)

    def _batches(self) -> Iterator[Record]:
        for key, day in self.days.items():
            opening = closing = None
            if day.first is not None and day.last is not None:
                if day.chain.oldest_first:
                    opening, closing = day.first[0] - day.first[1], day.last[0]
                else:
                    opening, closing = day.last[0] - day.last[1], day.first[0]
            yield ParsedBatch(
                key=key,
                currency=day.currency,
                period_start=day.day,
                period_end=day.day,
                opening_balance=opening,
                closing_balance=closing,
                account=day.account,
            )
