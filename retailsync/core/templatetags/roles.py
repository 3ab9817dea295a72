"""Roles on pages: what the navigation offers a person (`{% if user|has_role:"finance" %}`).
The views check the role themselves; hiding a link is a courtesy, not the guard."""

from __future__ import annotations

from typing import Any

from django import template

from retailsync.core import roles

register = template.Library()


@register.filter
def has_role(user: Any, role: str) -> bool:
    return roles.has_role(user, role)
