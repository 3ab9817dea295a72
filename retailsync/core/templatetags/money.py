"""Amounts on pages: rounded once, here, to the currency's minor unit (JPY 0, USD 2, KWD 3).
What rounds to zero is shown as zero, never "-0.00" (a -0.004 variance is no variance)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from retailsync.core.money import is_currency, quantize

register = template.Library()


@register.filter
def money(value: Decimal | None, currency: str = "USD") -> str:
    if value is None:
        return ""
    rounded = quantize(Decimal(value), currency if is_currency(currency) else "USD")
    return f"{rounded if rounded else abs(rounded):,f}"


@register.filter
def unit_money(value: Decimal | None, currency: str = "USD") -> str:
    """A unit price keeps sub-cent precision when it has it (10.00 for 3 is 3.3333 each)."""
    if value is None:
        return ""
    rounded = quantize(Decimal(value), currency if is_currency(currency) else "USD")
    return f"{rounded:,f}" if rounded == value else f"{Decimal(value).normalize():,f}"
