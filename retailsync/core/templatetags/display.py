"""How values read on every page and in every export: amounts with their currency (`$1,377.30`,
`€183.32`, `CHF 12.50`), never `-0.00`; tax rates as percentages; codes in words; times in
the site's time zone without seconds' fractions; record changes as differences, not dicts.

`{% load display %}`; the same functions serve the list tables (retailsync.core.tables).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django import template
from django.utils import timezone

from retailsync.core.money import is_currency, quantize
from retailsync.core.registry import reason_words

register = template.Library()

# Where a currency's own sign is unambiguous for our users; every other shows its ISO code.
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def rounded(value: Decimal | int | str | None, currency: str) -> Decimal | None:
    """The amount at the currency's minor unit; what rounds to zero is zero (never -0)."""
    if value is None or value == "":
        return None
    amount = quantize(Decimal(value), currency if is_currency(currency) else "USD")
    return amount if amount else abs(amount)


@register.filter
def amount(value: Decimal | int | str | None, currency: str = "") -> str:
    """`$1,377.30`, `-€12.00`, `CHF 12.50`; an empty string for no amount."""
    figure = rounded(value, currency)
    if figure is None:
        return ""
    sign = "-" if figure < 0 else ""
    digits = f"{abs(figure):,f}"
    code = (currency or "").upper()
    if code in SYMBOLS:
        return f"{sign}{SYMBOLS[code]}{digits}"
    return f"{sign}{code} {digits}".strip() if code else f"{sign}{digits}"


@register.filter
def percent(rate: Decimal | str | None) -> str:
    """A tax rate kept as a fraction (0.0825) as people read it: `8.25%`."""
    if rate is None or rate == "":
        return ""
    value = (Decimal(rate) * 100).normalize()
    text = f"{value:f}"
    return f"{text}%"


@register.filter
def words(code: str | None) -> str:
    """A status or code in words: `partially_shipped` → `partially shipped`."""
    return (code or "").replace("_", " ")


@register.filter
def reason(kind: str | None) -> str:
    """An exception kind (reason code) as its app words it."""
    return reason_words(kind or "")


def local(moment: datetime | None) -> datetime | None:
    """The moment in the site's time zone, without fractions of a second."""
    if moment is None:
        return None
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.replace(microsecond=0)


@register.filter
def when(moment: datetime | date | None) -> str:
    """`2026-11-20 14:03 UTC`: minutes are what people compare; the zone says which clock."""
    if moment is None:
        return ""
    if not isinstance(moment, datetime):
        return moment.isoformat()
    shown = local(moment)
    assert shown is not None
    return f"{shown:%Y-%m-%d %H:%M} {shown.tzname() or ''}".strip()


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, Mapping):
        return ", ".join(f"{words(str(k))} {_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "; ".join(_text(v) for v in value) or "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _rows(changes: Any, prefix: str) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if isinstance(changes, Mapping):
        for key, value in changes.items():
            label = f"{prefix} › {words(str(key))}" if prefix else words(str(key))
            if isinstance(value, list | tuple) and len(value) == 2 and not _nested(value):
                rows.append((label, f"{_text(value[0])} → {_text(value[1])}"))
            elif isinstance(value, Mapping):
                rows.extend(_rows(value, label))
            else:
                rows.append((label, _text(value)))
    elif changes not in (None, "", {}, []):
        rows.append((prefix or "change", _text(changes)))
    return rows


def _nested(value: Any) -> bool:
    return any(isinstance(v, Mapping | list | tuple) for v in value)


@register.filter
def differences(changes: Any) -> list[tuple[str, str]]:
    """A change record (`{"total": ["70.21", "80.00"], "lines": {"2": "removed"}}`) as rows
    of what changed and how: `("total", "70.21 → 80.00")`, `("lines › 2", "removed")`."""
    return _rows(changes, "")


@register.filter
def moment(value: datetime | None) -> str:
    """`2026-11-20 14:03:05 UTC`: to the second, where the order of events matters (a trace,
    a ledger), still without fractions."""
    shown = local(value)
    if shown is None:
        return ""
    return f"{shown:%Y-%m-%d %H:%M:%S} {shown.tzname() or ''}".strip()


@register.filter
def get_item(mapping: Mapping[str, Any] | None, key: str) -> Any:
    return (mapping or {}).get(key)


@register.filter
def unit_amount(value: Decimal | None, currency: str = "") -> str:
    """A unit price with its currency, keeping sub-cent precision when it has it
    (10.00 for 3 is `$3.3333` each)."""
    figure = rounded(value, currency)
    if value is None or figure is None:
        return ""
    if figure == Decimal(value):
        return amount(figure, currency)
    exact = Decimal(value).normalize()
    shown = amount(figure, currency)
    return shown.replace(f"{abs(figure):,f}", f"{abs(exact):,f}")
