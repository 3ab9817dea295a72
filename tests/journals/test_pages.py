"""Finance's journal pages: who may see them, the list with its filters, an entry's lines with
each line's sources named and linked, a line of many sources paged, all to the cent.

The order #1001 (tests/returns/conftest.py's two-jurisdiction order) shipped on 2026-11-11
makes one USD entry: clearing 224.60, discount 23.00 and COGS 75.00 on the debit side (322.60);
revenue 220.00, shipping 10.00, tax NY 12.42 and NY-Kings 5.18, inventory 75.00 on the credit
side (322.60)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from journals.models import JournalEntry, JournalLineSource, MappingRule
from orders.models import Order
from tests.journals.conftest import dispatch, place, ship
from tests.journals.pages import (
    figure,
    page_client,
    rows,
    section,
    sold_numbered,
    source_rows,
)
from tests.orders.payloads import canonical_order
from tests.settlements.pages import cells, client_for, row_of

pytestmark = pytest.mark.django_db
D = Decimal


def test_journal_pages_are_for_finance_and_admin_and_operations_get_403(books):
    sold_numbered(books)
    dispatch()
    entry = JournalEntry.objects.get()
    line = entry.lines.order_by("pk").first()
    assert line is not None
    paths = ["/journals/", f"/journals/{entry.pk}/", f"/journals/{entry.pk}/lines/{line.pk}/"]

    for path in paths:
        assert page_client(books.finance).get(path).status_code == 200, path
        assert client_for("admin").get(path).status_code == 200, path
        assert page_client(books.ops).get(path).status_code == 403, path
        anonymous = Client().get(path)
        assert (anonymous.status_code, anonymous["Location"]) == (302, f"/login/?next={path}")

    refused = page_client(books.ops).post(f"/journals/{entry.pk}/approve")
    assert refused.status_code == 403
    entry.refresh_from_db()
    assert (entry.status, entry.approved_by_id) == ("draft", None)


@pytest.fixture
def two_currencies(books, make_channel):  # type: ignore[no-untyped-def]
    """#1001 in USD on `web`; EU-1 on `web-eu`, a jacket at 100.00 EUR with 19.00 tax and 5.00
    shipping paid 124.00 by PayPal: a 124.00 EUR entry, and its jacket's cost (30.00) in a
    USD entry of `web-eu`."""
    eu = make_channel(code="web-eu", currency="EUR")
    eu.ops = books.ops
    sold_numbered(books)
    order = canonical_order(
        external_id="EU-1",
        currency="EUR",
        lines=[{"sku": "JACKET", "quantity": 1, "unit_price": "100.00", "tax": "19.00"}],
        shipping={"amount": "5.00", "discount": "0", "tax": "0"},
        payments=[{"gateway": "paypal", "reference": "PP-1", "amount": "124.00"}],
        total="124.00",
    )
    ship(eu, place(eu, order), [{"sku": "JACKET", "quantity": 1}], "2026-11-11T12:00:00Z")
    dispatch()
    return {
        "usd": JournalEntry.objects.get(currency="USD", channel__code="web"),
        "eur": JournalEntry.objects.get(currency="EUR"),
        "cost": JournalEntry.objects.get(currency="USD", channel__code="web-eu"),
    }


def test_the_list_shows_each_entry_with_its_total_debit_in_its_currency(books, two_currencies):
    page = page_client(books.finance).get("/journals/").content.decode()

    usd, eur, cost = two_currencies["usd"], two_currencies["eur"], two_currencies["cost"]
    assert cells(row_of(page, "data-entry", usd.pk)) == [
        usd.number,
        "US01",
        "web",
        "stripe",
        "2026-11-11",
        "USD",
        "322.60 USD",
        "draft",
        "—",
    ]
    assert cells(row_of(page, "data-entry", eur.pk))[3:7] == [
        "paypal",
        "2026-11-11",
        "EUR",
        "124.00 EUR",
    ]
    assert cells(row_of(page, "data-entry", cost.pk))[6] == "30.00 USD"
    assert f'href="/journals/{usd.pk}/"' in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("currency=EUR", ["eur"]),
        ("channel=web-eu&currency=USD", ["cost"]),
        ("legal_entity=US01&period=2026-11&status=draft", ["usd", "eur", "cost"]),
        ("status=posted", []),
    ],
)
def test_the_list_filters_by_its_choices(books, two_currencies, query, expected):
    page = page_client(books.finance).get(f"/journals/?{query}").content.decode()

    shown = {int(r) for r in re.findall(r'<tr data-entry="(\d+)">', page)}
    assert shown == {two_currencies[name].pk for name in expected}
    if not expected:
        assert "No entries match." in page


def test_a_value_that_is_not_a_choice_is_a_form_error_and_lists_nothing(books, two_currencies):
    response = page_client(books.finance).get("/journals/?period=2026-12&currency=XXX")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="filter-errors"' in page
    assert "Select a valid choice. XXX is not one of the available choices." in page
    assert "Select a valid choice. 2026-12 is not one of the available choices." in page
    assert "<tr data-entry=" not in page
    # The choices are what exists: both currencies, the one period.
    assert '<option value="EUR">EUR</option>' in page
    assert '<option value="2026-11">2026-11</option>' in page


def test_an_entry_shows_its_lines_to_the_cent_and_each_line_s_sources_down_to_the_order(books):
    MappingRule.objects.filter(legal_entity__code="US01", kind="revenue").update(
        dimensions={"cost_centre": "CC10", "department": "D1"}
    )
    order_id = sold_numbered(books)
    dispatch()
    entry = JournalEntry.objects.get()

    page = page_client(books.finance).get(f"/journals/{entry.pk}/").content.decode()

    assert (figure(page, "debit"), figure(page, "credit")) == ("322.60 USD", "322.60 USD")
    assert (figure(page, "lines-debit"), figure(page, "lines-credit")) == ("322.60", "322.60")
    lines = {(r[1], r[5]): [*r[2:5], r[6]] for r in rows(page, "lines")}
    assert lines == {
        ("1100 Channel clearing", "Channel clearing (stripe)"): ["224.60", "", "—", "1"],
        ("4000 Sales revenue", "Sales revenue"): [
            "",
            "220.00",
            "Cost centre CC10 · Department D1",
            "1",
        ],
        ("4010 Shipping revenue", "Shipping revenue"): ["", "10.00", "—", "1"],
        ("4050 Sales discounts", "Discounts"): ["23.00", "", "—", "1"],
        ("2200 Sales tax payable", "Tax payable NY"): ["", "12.42", "—", "1"],
        ("2200 Sales tax payable", "Tax payable NY-Kings"): ["", "5.18", "—", "1"],
        ("5000 Cost of goods sold", "Cost of goods sold"): ["75.00", "", "—", "1"],
        ("1200 Inventory", "Inventory"): ["", "75.00", "—", "1"],
    }
    revenue = entry.lines.get(account__code="4000")
    sources = section(page, f"sources-{revenue.pk}")
    assert source_rows(sources) == {
        f"order:{order_id}": (["order", "#1001", "220.00 USD"], f"/orders/{order_id}/")
    }
    assert "1 source in all, adding up to" in sources
    assert figure(sources, "sources-total") == "220.00 USD = the line"
    assert "page through" not in sources  # one source: nothing more to see
    assert f'href="/orders/{order_id}/"' in page


def test_the_order_page_links_up_to_the_journal_lines_it_fed(books):
    order_id = sold_numbered(books)
    dispatch()
    entry = JournalEntry.objects.get()

    page = page_client(books.finance).get(f"/orders/{order_id}/").content.decode()

    panel = section(page, "journal-lines")
    assert "Journal lines" in panel
    fed = rows(panel, "journal-lines-fed")
    assert sorted((r[3], r[4], r[5], r[6]) for r in fed) == [
        ("1100 Channel clearing", "Channel clearing (stripe)", "debit", "224.60 USD"),
        ("1200 Inventory", "Inventory", "credit", "75.00 USD"),
        ("2200 Sales tax payable", "Tax payable NY", "credit", "12.42 USD"),
        ("2200 Sales tax payable", "Tax payable NY-Kings", "credit", "5.18 USD"),
        ("4000 Sales revenue", "Sales revenue", "credit", "220.00 USD"),
        ("4010 Shipping revenue", "Shipping revenue", "credit", "10.00 USD"),
        ("4050 Sales discounts", "Discounts", "debit", "23.00 USD"),
        ("5000 Cost of goods sold", "Cost of goods sold", "debit", "75.00 USD"),
    ]
    assert {(r[0], r[1], r[2]) for r in fed} == {(entry.number, "draft", "2026-11-11")}
    revenue = entry.lines.get(account__code="4000")
    assert f'href="/journals/{entry.pk}/#sources-{revenue.pk}"' in panel
    # Operations see the order, not its books.
    seen_by_ops = page_client(books.ops).get(f"/orders/{order_id}/").content.decode()
    assert 'id="journal-lines"' not in seen_by_ops


def test_a_line_of_many_sources_shows_the_first_50_their_count_and_sum_and_pages_the_rest(books):
    """The revenue line (220.00) as 120 orders' parts: 100 of 1.83 and 20 of 1.85 (183.00 +
    37.00 = 220.00), as a day's summarized entry has them."""
    first = sold_numbered(books)
    dispatch()
    entry = JournalEntry.objects.get()
    revenue = entry.lines.get(account__code="4000")
    finance = page_client(books.finance)
    with CaptureQueriesContext(connection) as one_source:
        finance.get(f"/journals/{entry.pk}/")
    model = Order.objects.filter(pk=first).values().get()
    clones = Order.objects.bulk_create(
        Order(
            **{
                **model,
                "id": None,
                "external_id": f"R-{1001 + n}",
                "order_number": f"#{1001 + n}",
                "correlation_id": f"c-{n}",
            }
        )
        for n in range(1, 120)
    )
    ids = [first, *[o.pk for o in clones]]
    JournalLineSource.objects.filter(line=revenue).delete()
    JournalLineSource.objects.bulk_create(
        JournalLineSource(
            line=revenue,
            source_type="order",
            source_id=pk,
            amount=D("1.83") if n < 100 else D("1.85"),
        )
        for n, pk in enumerate(ids)
    )

    with CaptureQueriesContext(connection) as many_sources:
        page = finance.get(f"/journals/{entry.pk}/").content.decode()

    assert len(many_sources) == len(one_source)  # a query per kind of source, not per source
    sources = section(page, f"sources-{revenue.pk}")
    shown = source_rows(sources)
    assert list(shown) == [f"order:{pk}" for pk in ids[:50]]
    assert shown[f"order:{ids[49]}"] == (["order", "#1050", "1.83 USD"], f"/orders/{ids[49]}/")
    assert "120 sources in all, adding up to" in sources
    assert figure(sources, "sources-total") == "220.00 USD = the line"
    all_link = f"/journals/{entry.pk}/lines/{revenue.pk}/"
    assert f'href="{all_link}"' in sources
    assert "Showing the first 50 of 120" in sources

    pages = [finance.get(f"{all_link}?page={n}").content.decode() for n in (1, 2, 3)]
    seen = [list(source_rows(p)) for p in pages]
    assert seen == [[f"order:{pk}" for pk in ids[a:b]] for a, b in ((0, 50), (50, 100), (100, 120))]
    last = source_rows(pages[2])
    assert last[f"order:{ids[119]}"] == (["order", "#1120", "1.85 USD"], f"/orders/{ids[119]}/")
    assert "Sources 101–120 of 120 · page 3 of 3" in pages[2]
    assert figure(pages[2], "sources-total") == "220.00 USD = the line"
