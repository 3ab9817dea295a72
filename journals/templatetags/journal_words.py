"""Journal figures in words on the pages: ERP dimensions as a person reads them."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def dimension_words(dimensions: dict[str, Any] | None) -> str:
    """{"cost_centre": "CC10", "department": "D1"} → "Cost centre CC10 · Department D1"."""
    if not dimensions:
        return ""
    return " · ".join(
        f"{str(name).replace('_', ' ').capitalize()} {value}"
        for name, value in sorted(dimensions.items())
    )
