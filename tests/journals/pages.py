"""What the journal page tests share: a page client for a person of the `books` retailer, the
two-jurisdiction order sold with its number #1001, and readers of the pages' rows."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client

from tests.journals.conftest import place, ship
from tests.returns.conftest import two_jurisdiction_order
from tests.settlements.pages import cells, text


def page_client(api_client: Any, **kwargs: Any) -> Client:
    """A browser session for the person behind one of `books`' API clients."""
    client = Client(**kwargs)
    client.force_login(api_client.user)
    return client


def sold_numbered(shop: Any, number: str = "#1001", external_id: str = "R-1") -> int:
    """The two-jurisdiction order (224.60 USD by Stripe) with its number, shipped whole on
    2026-11-11: its entry's debits are 322.60 (224.60 clearing + 23.00 discount + 75.00 COGS)."""
    order_id = place(shop, {**two_jurisdiction_order(external_id), "order_number": number})
    ship(
        shop,
        order_id,
        [{"sku": "JACKET", "quantity": 2}, {"sku": "SCARF", "quantity": 3}],
        "2026-11-11T10:00:00Z",
    )
    return order_id


def rows(page: str, table_id: str) -> list[list[str]]:
    """The body rows of one table, each as the text of its cells."""
    found = re.search(rf'<table id="{table_id}".*?<tbody>(.*?)</tbody>', page, re.S)
    assert found, f"no table {table_id}"
    return [cells(row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", found.group(1), re.S)]


def section(page: str, section_id: str) -> str:
    found = re.search(rf'<section id="{section_id}".*?</section>', page, re.S)
    assert found, f"no section {section_id}"
    return found.group(0)


def source_rows(fragment: str) -> dict[str, tuple[list[str], str]]:
    """`type:id` → (the row's cells, the link's target) of a sources table."""
    out = {}
    for key, row in re.findall(r'<tr data-source="([\w:]+)">(.*?)</tr>', fragment, re.S):
        link = re.search(r'href="([^"]+)"', row)
        out[key] = (cells(row), link.group(1) if link else "")
    return out


def messages_of(page: str) -> list[str]:
    return [text(m) for m in re.findall(r'<li class="[^"]*">(.*?)</li>', page, re.S)]


def figure(page: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}"[^>]*>(.*?)</(?:b|td)>', page, re.S)
    assert found, f"no figure {name}"
    return text(found.group(1))
