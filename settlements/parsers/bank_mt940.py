"""SWIFT MT940 customer statements (formats.md §8b'), through the `mt-940` package.

Named bank_mt940 so that `import mt940` inside this package still finds the package.

Streaming bound: the package parses text it holds whole, so the file is read one statement
block at a time (a `:20:` line up to the next `:20:`: `:20:` ... `:62F:` and what trails it);
memory holds one statement, and a block over `MAX_BLOCK_CHARS` is refused. Lines before the
first `:20:` (bank headers such as ABN AMRO's `ABNANL2A`/`940`) and the SWIFT envelope
(`{1:...}`, `-}`, a lone `-`) are skipped.

Each tag goes to the package on its own, so a field it cannot parse is refused with that tag's
line. The package signs `:61:` with its opt-in fixes (`Options.all()`): `C` and `RD` (reversal
of a debit) are credits, `D` and `RC` (reversal of a credit) debits. `:86:` is read here, not by
the package, which would fold a statement-level `:86:` after `:62F:` into the last entry; its
lines are joined with `_bank.join_wrapped` (65 wide; the first line is full at 61, as ING and
Rabobank count the tag in it).

A statement needs `:25:`, one opening balance (`:60F:`/`:60M:`) and one closing balance
(`:62F:`/`:62M:`): without the closing balance the file is truncated. Opening + Σ entries =
closing, or the file is refused (see `_bank.check_identity`). The batch key is account,
statement number (`:28C:`) and closing date: `:20:` is not unique at many banks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import IO, Any

from mt940.models import Transactions
from mt940.options import Options
from mt940.tags import TAG_BY_ID

from . import _bank
from .base import ColumnMapping, ParsedBatch, ParsedLine, ParseError, Record

MAX_BLOCK_CHARS = 64 * 1024 * 1024
_TAG = re.compile(r"^:(?P<id>\d{2}|NS)(?P<letter>[A-Z])?:")
_DETAILS_WIDTH = 65
_PACKAGE_OBJECT = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")
_NO_REFERENCE = "NONREF"
_PACKAGE_OPTIONS = Options.all()
_OPENING = ("final_opening_balance", "intermediate_opening_balance", "opening_balance")
_CLOSING = ("final_closing_balance", "intermediate_closing_balance", "closing_balance")
_ONCE = {"20", "25", "28", "60", "62"}


def parse(stream: IO[bytes], *, options: ColumnMapping | None = None) -> Iterator[Record]:
    keys_seen: set[str] = set()
    statements = 0
    for block in _blocks(_bank.read_lines(stream)):
        statements += 1
        yield from _statement(_tags(block), keys_seen)
    if not statements:
        raise ParseError(0, "no MT940 statement (no :20: line)")


def _blocks(lines: Iterator[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    block: list[tuple[int, str]] = []
    size = 0
    for number, text in lines:
        line = text.rstrip()
        if not line or line == "-" or line.startswith(("{", "-}")):
            continue
        if line.startswith(":20:"):
            if block:
                yield block
            block, size = [], 0
        elif not block:
            continue  # a bank's header before the first statement
        size += len(line)
        if size > MAX_BLOCK_CHARS:
            raise ParseError(number, f"statement longer than {MAX_BLOCK_CHARS} characters")
        block.append((number, line))
    if block:
        yield block


@dataclass
class _Tag:
    id: str  # "61", "60F", "NS"
    row: int
    lines: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.id[:2]

    @property
    def value(self) -> str:
        first = _TAG.sub("", self.lines[0], count=1)
        return "\n".join([first, *self.lines[1:]]).strip()


def _tags(block: list[tuple[int, str]]) -> list[_Tag]:
    tags: list[_Tag] = []
    for number, line in block:
        match = _TAG.match(line)
        known = match is not None and (
            match["id"] == "NS" or int(match["id"]) in TAG_BY_ID or match["id"] in TAG_BY_ID
        )
        if match is not None and known:
            tags.append(_Tag(id=match["id"] + (match["letter"] or ""), row=number))
        tags[-1].lines.append(line)
    return tags


@dataclass
class _Entry:
    tag: _Tag
    data: dict[str, Any]
    details: _Tag | None = None


def _statement(tags: list[_Tag], keys_seen: set[str]) -> Iterator[Record]:
    statement = Transactions(options=_PACKAGE_OPTIONS)
    entries: list[_Entry] = []
    seen: dict[str, _Tag] = {}
    for tag in tags:
        if tag.base in _ONCE:
            if tag.base in seen:
                raise ParseError(tag.row, f":{tag.id}: appears twice in one statement")
            seen[tag.base] = tag
        if tag.base == "86":
            if entries and entries[-1].details is None and "62" not in seen:
                entries[-1].details = tag
            continue  # statement-level information: not an entry's
        if tag.base == "NS":
            continue
        if tag.base == "61" and ("60" not in seen or "62" in seen):
            raise ParseError(tag.row, ":61: outside the opening and closing balances")
        try:
            statement.parse("\n".join(tag.lines))
        except (RuntimeError, ValueError, ArithmeticError, LookupError, TypeError) as exc:
            reason = exc.args[0] if isinstance(exc, RuntimeError) else str(exc)
            # The package names the tag it failed on by its object's address: of no use to
            # finance, and the tag is named here already.
            reason = _PACKAGE_OBJECT.sub("it", str(reason))
            raise ParseError(tag.row, f"malformed :{tag.id}: {tag.value!r} ({reason})") from None
        if tag.base == "61":
            entries.append(_Entry(tag=tag, data=statement.transactions[-1].data))
    first = tags[0]
    for base, name in (("25", "account (:25:)"), ("60", "opening balance (:60F:)")):
        if base not in seen:
            raise ParseError(first.row, f"statement {first.value!r} has no {name}")
    if "62" not in seen:
        raise ParseError(
            tags[-1].row, f"truncated: statement {first.value!r} has no closing balance (:62F:)"
        )
    data = statement.data
    account = str(data.get("account_identification") or "").strip()
    opening_tag, closing_tag = seen["60"], seen["62"]
    opening_balance = next(data[k] for k in _OPENING if k in data)
    closing_balance = next(data[k] for k in _CLOSING if k in data)
    currency = _bank.currency_code(opening_balance.amount.currency, opening_tag.row)
    if _bank.currency_code(closing_balance.amount.currency, closing_tag.row) != currency:
        raise ParseError(closing_tag.row, f"closing balance not in the statement's {currency}")
    opening = _bank.money(opening_balance.amount.amount, currency, opening_tag.row, "opening")
    closing = _bank.money(closing_balance.amount.amount, currency, closing_tag.row, "closing")
    number = str(data.get("statement_number") or "")
    if data.get("sequence_number"):
        number += f"/{data['sequence_number']}"
    closing_date = _plain(closing_balance.date)
    key = ":".join(p for p in (account, number, closing_date.isoformat()) if p)
    if key in keys_seen:
        raise ParseError(first.row, f"statement {key} appears twice")
    keys_seen.add(key)
    keys = _bank.LineKeys(account)
    lines = [_line(entry, key, currency, keys) for entry in entries]
    _bank.check_identity(
        closing_tag.row,
        f"statement {key}",
        currency,
        opening,
        sum((line.net for line in lines), Decimal(0)),
        closing,
    )
    yield ParsedBatch(
        key=key,
        currency=currency,
        period_start=_plain(opening_balance.date),
        period_end=closing_date,
        opening_balance=opening,
        closing_balance=closing,
        account=account,
    )
    yield from lines


def _plain(day: date) -> date:
    """The package's `Date` subclass as a plain date."""
    return date(day.year, day.month, day.day)


def _reference(value: object) -> str:
    text = str(value or "").strip()
    return "" if text.upper() == _NO_REFERENCE else text


def _line(entry: _Entry, batch_key: str, currency: str, keys: _bank.LineKeys) -> ParsedLine:
    data, row = entry.data, entry.tag.row
    if data.get("currency") and _bank.currency_code(data["currency"], row) != currency:
        raise ParseError(row, f"entry in {data['currency']} on a {currency} statement")
    amount = _bank.money(data["amount"].amount, currency, row)
    mark = str(data.get("status") or "").upper()
    credit = mark in ("C", "RD")
    booked = _plain(data.get("entry_date") or data["date"])
    bank_ref = _reference(data.get("bank_reference"))
    customer_ref = _reference(data.get("customer_reference"))
    details = entry.details
    description = ""
    if details is not None:
        # ING and Rabobank count the `:86:` tag in the first line's 65 characters.
        description = _bank.join_wrapped(
            [details.value.split("\n")[0], *details.lines[1:]],
            _DETAILS_WIDTH,
            first_width=_DETAILS_WIDTH - len(":86:"),
        )
    raw = "\n".join(entry.tag.lines + (details.lines if details is not None else []))
    extra = {
        "mark": mark,
        "value_date": data["date"].isoformat(),
        "transaction_type": str(data.get("id") or ""),
        "supplementary": str(data.get("extra_details") or "").strip(),
    }
    return _bank.bank_line(
        row=row,
        batch_key=batch_key,
        line_key=keys.key(
            bank_ref=bank_ref, booked=booked, amount=amount, text=f"{customer_ref} {description}"
        ),
        credit=credit,
        amount=amount,
        currency=currency,
        booked=booked,
        payment_ref=bank_ref,
        related_ref=customer_ref,
        description=description,
        raw=raw,
        extra={k: v for k, v in extra.items() if v},
    )
