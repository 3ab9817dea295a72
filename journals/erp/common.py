"""What every ERP adapter needs before it says a word to the ERP: a journal it may send, amounts
rounded once at this edge, short handles for ERPs whose reference fields are short, and JSON
whose amounts stay exact decimals (the standard library's `json` knows no Decimal)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TypeAlias

from retailsync.core.money import is_currency, quantize

from .base import ErpJournal, ErpLine

Json: TypeAlias = bool | int | str | Decimal | Sequence["Json"] | Mapping[str, "Json"] | None


def to_json(value: Json) -> str:
    """JSON text in which a Decimal is a number literal with its digits, never a float."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return format(value, "f")
    if isinstance(value, Mapping):
        items = (f"{json.dumps(key)}: {to_json(item)}" for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "[" + ", ".join(to_json(item) for item in value) + "]"
    return json.dumps(value)


def amount(value: Decimal, currency: str) -> Decimal:
    """The amount as the ERP gets it: rounded once, here, to the currency's minor unit."""
    return quantize(value, currency)


def signed(line: ErpLine, currency: str) -> Decimal:
    """Debit positive, credit negative: the convention of SAP, Odoo's balance and Beancount."""
    return amount(line.debit, currency) - amount(line.credit, currency)


def journal_problem(journal: ErpJournal) -> str:
    """Why this journal must not leave for any ERP, or "" when it may.

    The posting service balances entries before they get here; this is the adapters' own guard,
    so that no ERP ever sees half a voucher or a line that is both debit and credit."""
    if not is_currency(journal.currency):
        return f"unknown currency {journal.currency!r}"
    if len(journal.lines) < 2:
        return "a journal entry needs at least two lines"
    total = Decimal(0)
    for number, line in enumerate(journal.lines, start=1):
        debit, credit = amount(line.debit, journal.currency), amount(line.credit, journal.currency)
        if debit < 0 or credit < 0:
            return f"line {number}: debit and credit must not be negative"
        if (debit == 0) == (credit == 0):
            return f"line {number}: exactly one of debit and credit must be non-zero"
        if not line.account:
            return f"line {number}: no account"
        total += debit - credit
    if total != 0:
        return f"debits and credits differ by {total} {journal.currency}"
    return ""


def short_handle(key: str, size: int, prefix: str = "RS") -> str:
    """`key` itself when it fits in `size` characters, else a stable digest of it that does.

    Several ERPs keep references in short fields (SAP's DocumentReferenceID: 16, D365's
    Document: 20); the same key always gives the same handle, so a lookup finds a redelivery."""
    if len(key) <= size:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest().upper()
    return prefix + digest[: size - len(prefix)]


def odata_literal(value: str) -> str:
    """A string literal for an OData `$filter` (a quote inside is doubled)."""
    return "'" + value.replace("'", "''") + "'"


def setting(values: Mapping[str, str], name: str, default: str = "") -> str:
    return values.get(name, default).strip() or default


def pairs(text: str) -> dict[str, str]:
    """`"USD:1, EUR:4"` (a mapping kept in one credentials value) as a dict."""
    found: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.partition(":")
        if sep and name.strip() and value.strip():
            found[name.strip()] = value.strip()
    return found
