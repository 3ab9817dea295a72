"""The navigation's links, the current one marked for assistive technology and the eye alike:
`{% nav_link "order-list-page" "Orders" %}` renders `<a href="/orders/" aria-current="page">`
on /orders/ and on every page below it (an order, an item's ledger under Stock)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


def is_current(path: str, href: str) -> bool:
    """The overview only on itself; any other section on its own pages too."""
    return path == href if href == "/" else path.startswith(href)


@register.simple_tag(takes_context=True)
def nav_link(context: dict[str, Any], url_name: str, label: str) -> SafeString:
    href = reverse(url_name)
    request = context.get("request")
    if request is not None and is_current(request.path, href):
        return format_html('<a href="{}" aria-current="page">{}</a>', href, label)
    return format_html('<a href="{}">{}</a>', href, label)
