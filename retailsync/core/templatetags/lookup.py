"""`mapping|get_item:key` for tables keyed by data (a day, a label), which Django's dotted
lookup cannot reach."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: Mapping[Any, Any] | None, key: Any) -> Any:
    return mapping.get(key) if mapping is not None else None
