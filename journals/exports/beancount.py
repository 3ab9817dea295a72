"""The journals as a Beancount ledger that `bean-check` accepts.

Beancount knows five account roots (Assets, Liabilities, Equity, Income, Expenses) and names
accounts by colon-separated components that start with a capital letter or a digit; the caller
says, per ERP account, which root it belongs under and what to call it (the chart of accounts
knows both), and the legal entity becomes the component after the root, so two companies'
books never mix. Every account used is opened, with the currencies posted to it, the day before
its first posting. Each entry is one transaction: debits positive, credits negative, our
reference (and the ERP document an entry reverses) as metadata, each line's description and
dimensions as posting metadata. Amounts are rounded once, here, to the currency's minor unit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TextIO

from journals.erp.base import ErpJournal
from journals.erp.common import signed

ROOTS = {
    "asset": "Assets",
    "assets": "Assets",
    "liability": "Liabilities",
    "liabilities": "Liabilities",
    "equity": "Equity",
    "income": "Income",
    "revenue": "Income",
    "expense": "Expenses",
    "expenses": "Expenses",
}
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9-]+")
_NOT_IN_KEY = re.compile(r"[^A-Za-z0-9_-]+")


def component(text: str) -> str:
    """One account component: ASCII letters, digits and `-`, starting with a capital or digit."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = _NOT_IN_NAME.sub("-", ascii_text).strip("-")
    cleaned = re.sub("-{2,}", "-", cleaned)
    if not cleaned:
        return "X"
    return cleaned[0].upper() + cleaned[1:]


def account_name(kind: str, name: str, legal_entity: str) -> str:
    """`Assets:US01:Clearing:Shopify` for ("asset", "Clearing:Shopify", "US01")."""
    try:
        root = ROOTS[kind.strip().lower()]
    except KeyError:
        raise ValueError(f"{kind!r} is not an account type Beancount knows") from None
    parts = [component(part) for part in name.split(":") if part.strip()]
    return ":".join([root, component(legal_entity), *(parts or ["X"])])


def meta_key(name: str) -> str:
    """A metadata key: starts with a lowercase letter, then letters, digits, `-` and `_`."""
    cleaned = _NOT_IN_KEY.sub("-", name).strip("-_")
    if not cleaned:
        return "dimension"
    if not cleaned[0].isalpha():
        return "d-" + cleaned
    return cleaned[0].lower() + cleaned[1:]


def quoted(text: str) -> str:
    flat = " ".join(text.split())
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(slots=True)
class _Opening:
    first: date
    currencies: set[str] = field(default_factory=set)


def _names(
    journals: Sequence[ErpJournal], accounts: Mapping[str, tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """Beancount's name for each (legal entity, ERP account) the journals use."""
    names: dict[tuple[str, str], str] = {}
    owners: dict[str, str] = {}
    for journal in journals:
        for line in journal.lines:
            key = (journal.legal_entity, line.account)
            if key in names:
                continue
            if line.account not in accounts:
                raise ValueError(f"no account type and name for ERP account {line.account!r}")
            kind, title = accounts[line.account]
            name = account_name(kind, title, journal.legal_entity)
            if owners.setdefault(name, line.account) != line.account:
                raise ValueError(
                    f"ERP accounts {owners[name]!r} and {line.account!r} would both be {name}"
                )
            names[key] = name
    return names


def write_beancount(
    journals: Sequence[ErpJournal],
    accounts: Mapping[str, tuple[str, str]],
    stream: TextIO,
) -> int:
    """Write the journals to `stream` as a Beancount file; the number of transactions.

    `accounts` maps each ERP account to (type, name): type one of asset, liability, equity,
    income (or revenue), expense; name the account's title, `:` for deeper levels. An account
    missing from it, or two accounts that would get one name, raise ValueError before anything
    is written."""
    names = _names(journals, accounts)
    openings: dict[str, _Opening] = {}
    for journal in journals:
        for line in journal.lines:
            name = names[(journal.legal_entity, line.account)]
            opening = openings.setdefault(name, _Opening(journal.posting_date))
            opening.first = min(opening.first, journal.posting_date)
            opening.currencies.add(journal.currency)

    stream.write(";; Journals exported by retailsync.\n\n")
    for name in sorted(openings):
        opening = openings[name]
        opened = (opening.first - timedelta(days=1)).isoformat()
        stream.write(f"{opened} open {name} {','.join(sorted(opening.currencies))}\n")

    count = 0
    for journal in journals:
        stream.write(f"\n{journal.posting_date.isoformat()} * {quoted(journal.description)}\n")
        stream.write(f"  reference: {quoted(journal.reference)}\n")
        stream.write(f"  legal-entity: {quoted(journal.legal_entity)}\n")
        if journal.reversal_of:
            stream.write(f"  reversal-of: {quoted(journal.reversal_of)}\n")
        width = max(len(names[(journal.legal_entity, line.account)]) for line in journal.lines)
        for line in journal.lines:
            name = names[(journal.legal_entity, line.account)]
            value = signed(line, journal.currency)
            stream.write(f"  {name.ljust(width)}  {value:>14} {journal.currency}\n")
            if line.description:
                stream.write(f"    memo: {quoted(line.description)}\n")
            for dimension, dimension_value in sorted(line.dimensions.items()):
                stream.write(f"    {meta_key(dimension)}: {quoted(dimension_value)}\n")
        count += 1
    return count
