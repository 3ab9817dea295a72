"""What a posting rule makes of one source event: legs (a kind of amount, signed, in a currency)
that balance per currency, each with the source records that make it up.

A rule knows nothing of accounts or entries: `journals.services.apply` maps each leg's kind to
an account by the mapping rules, and sums legs into the lines of the summarized drafts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from retailsync.core.money import quantize

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class SourceRef:
    type: str  # SourceType
    id: int
    amount: Decimal  # signed like the leg


@dataclass(frozen=True, slots=True)
class SqlSources:
    """Sources too many to hold in memory (a settlement's lines): a query whose rows are
    (part, source id, amount); the leg's sources are the rows of its `part`, their positive
    amounts adding up to the leg's size. Legs that share a query share its one pass: one
    INSERT … SELECT writes the links of all of them (`lines.lines_add`)."""

    type: str
    sql: str
    params: tuple[Any, ...]
    part: str


@dataclass(frozen=True, slots=True)
class Leg:
    kind: str  # AmountKind
    amount: Decimal  # debit positive, credit negative
    currency: str
    sources: tuple[SourceRef, ...] = ()
    sql_sources: SqlSources | None = None
    payment_method: str = ""  # for the mapping rule (a clearing account per method)
    jurisdiction: str = ""
    description: str = ""
    fx_rate: Decimal | None = None
    fx_rate_source: str = ""


@dataclass(frozen=True, slots=True)
class Posting:
    """One source event's legs, and where they go."""

    event_name: str
    source_id: int
    event_id: int | None
    legal_entity: str  # code
    channel: str  # code, "" for none
    payment_method: str  # what the entry is grouped by
    posting_date: date
    legs: tuple[Leg, ...]
    order_id: int | None = None  # for per-order entries
    notes: tuple[str, ...] = ()
    correlation_id: str = ""


@dataclass(slots=True)
class LegsBuilder:
    """Collects legs; `add` drops zero amounts, so rules can add every part unconditionally."""

    currency: str
    legs: list[Leg] = field(default_factory=list)

    def add(
        self,
        kind: str,
        amount: Decimal,
        *sources: SourceRef,
        currency: str = "",
        **extra: Any,
    ) -> None:
        if amount:
            self.legs.append(
                Leg(kind, amount, currency or self.currency, sources=tuple(sources), **extra)
            )

    def total(self, currency: str = "") -> Decimal:
        wanted = currency or self.currency
        return sum((leg.amount for leg in self.legs if leg.currency == wanted), ZERO)


def unbalanced(legs: Sequence[Leg]) -> dict[str, Decimal]:
    """Currencies whose legs do not add up to zero, with what they add up to."""
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for leg in legs:
        totals[leg.currency] += leg.amount
    return {c: t for c, t in totals.items() if t}


def units_share(total: Decimal, done: int, quantity: int, of: int, currency: str) -> Decimal:
    """The share of `total` (for `of` units) of units done+1..done+quantity, split cumulatively
    so that all parts of a line add up to exactly its total (as returns' refund quote does)."""
    if not of:
        return ZERO
    after = quantize(total * (done + quantity) / of, currency)
    before = quantize(total * done / of, currency)
    return after - before
