"""How a batch's figures read on the pages: the match rate and the payout identity check."""

from __future__ import annotations

from decimal import Decimal

from django import template

from retailsync.core.money import is_currency, quantize

from ..matching.exceptions import REASONS
from ..models import SettlementBatch, SettlementLine

register = template.Library()

# The payout identity (payout amount = sum of the lines) holds within a cent.
IDENTITY_TOLERANCE = Decimal("0.01")


@register.filter
def match_rate(batch: SettlementBatch) -> str:
    """Matched lines as a share of all lines: "75.0%"; "—" for a batch without lines."""
    if not batch.lines_count:
        return "—"
    return f"{Decimal(100 * batch.matched) / batch.lines_count:.1f}%"


@register.filter
def identity_holds(batch: SettlementBatch) -> bool:
    return abs(batch.variance) <= IDENTITY_TOLERANCE


@register.filter
def shows_nonzero(value: Decimal | None, currency: str) -> bool:
    """Whether the amount, rounded to the currency's minor unit, is not zero."""
    if value is None:
        return False
    return quantize(Decimal(value), currency if is_currency(currency) else "USD") != 0


@register.filter
def reason_text(reason: str) -> str:
    """Why a line is not matched, in words (the exception queue's wording)."""
    return REASONS.get(reason, reason.replace("_", " "))


@register.filter
def refs(line: SettlementLine) -> list[str]:
    """The references a line carries, in the order a person looks for them."""
    return [r for r in (line.order_ref, line.payment_ref, line.related_ref) if r]


@register.filter
def named_refs(line: SettlementLine) -> list[str]:
    """The references a line carries, each with what it is ("order #1001")."""
    named = (("order", line.order_ref), ("payment", line.payment_ref), ("of", line.related_ref))
    return [f"{name} {ref}" for name, ref in named if ref]
