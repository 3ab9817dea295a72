"""A return through the back office in chromium: a store receives it (choosing where, seeing
what), inspects it line by line where the units wait, and finance reads the refund quote,
confirms it and sees what was refunded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retailsync.core.services import channel_create, user_create
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(os.environ.get("SCREENSHOTS", "/tmp/retailsync-shots"))


@pytest.fixture
def authorized_return(db):  # type: ignore[no-untyped-def]
    """Two scarves (of three) and one jacket (of two) back from an order shipped from WH1."""
    from rest_framework.test import APIClient

    from inventory.services import item_upsert, location_upsert
    from returns.services import LineInput, return_authorize, return_request
    from tests.returns.conftest import two_jurisdiction_order

    user_create(username="sam", role="operations", password="sam-pass-2026")
    user_create(username="fiona", role="finance", password="fiona-pass-2026")
    for code, kind in (("AA-UK-3PL", "3pl"), ("STORE1", "store"), ("WH1", "warehouse")):
        location_upsert(code=code, kind=kind)
    for sku in ("JACKET", "SCARF"):
        item_upsert(sku=sku)
    _, token = channel_create(code="web", source="canonical")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    order_id = api.post(
        "/api/v1/channels/web/orders", two_jurisdiction_order(), format="json"
    ).json()["id"]
    shipped = api.post(
        f"/api/v1/orders/{order_id}/shipments",
        {
            "location": "WH1",
            "lines": [{"sku": "SCARF", "quantity": 3}, {"sku": "JACKET", "quantity": 2}],
        },
        format="json",
    )
    assert shipped.status_code == 201, shipped.json()
    ret = return_request(
        order_id=order_id,
        lines=[LineInput(2, "too_small", sku="SCARF"), LineInput(1, "faulty", sku="JACKET")],
    )
    return_authorize(return_id=ret.pk)
    return ret.pk


def offered(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.get_attribute("data-action") for e in page.locator("#actions [data-action]").all()]


def cells(row) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.strip() for c in row.locator("td").all_inner_texts()]


def test_a_store_receives_and_inspects_a_return_and_finance_approves_the_quoted_refund(
    page, browser, live_server, authorized_return
):
    from inventory.models import Position

    rid = authorized_return
    log_in(page, "sam", "sam-pass-2026")
    page.click("text=Returns")
    page.click(f"text=RMA-{rid}")
    assert offered(page) == ["receive", "reject", "cancel"]

    # Receive: where the order shipped from is chosen first, not the first in the alphabet;
    # the lines and quantities still expected are shown, and what will be booked where.
    page.click("[data-action=receive]")
    assert page.locator("select[name=location]").input_value() == "WH1"
    expected = page.locator("#receive-lines tbody tr")
    assert [cells(expected.nth(i))[:5] for i in range(expected.count())] == [
        ["SCARF", "too_small", "2", "0", "2"],
        ["JACKET", "faulty", "1", "0", "1"],
    ]
    summary = page.locator("#receive-summary")
    assert summary.inner_text() == "Will receive 2 × SCARF, 1 × JACKET at WH1."
    page.select_option("select[name=location]", "STORE1")
    page.fill("input[aria-label='receive SCARF']", "1")
    assert summary.inner_text() == "Will receive 1 × SCARF, 1 × JACKET at STORE1."
    page.screenshot(path=str(_shots() / "return-receive.png"), full_page=True)
    page.click("button[data-action=receive]")
    assert page.locator("#status").inner_text() == "received"
    assert "2 unit(s) received at STORE1." in page.locator(".messages").inner_text()

    # The last scarf arrives at the warehouse.
    page.click("[data-action=receive]")
    assert page.locator("#receive-lines tbody tr").count() == 1
    page.click("button[data-action=receive]")
    where = {
        cells(r)[0]: r.locator("td.received-at").inner_text()
        for r in page.locator("#lines tbody tr").all()
    }
    assert where == {"SCARF": "1 at STORE1, 1 at WH1", "JACKET": "1 at STORE1"}
    assert offered(page) == ["inspect"]

    # Inspect: the scarves wait in two places, so the store says where it inspects.
    page.click("[data-action=inspect]")
    waiting = {
        cells(r)[0]: r.locator("td.waiting-at").inner_text()
        for r in page.locator("#inspect-lines tbody tr").all()
    }
    assert waiting == {"SCARF": "1 at STORE1, 1 at WH1", "JACKET": "1 at STORE1"}
    page.fill("input[aria-label='restock SCARF']", "1")
    page.fill("input[aria-label='damaged JACKET']", "1")
    page.click("button[data-action=inspect]")
    assert "SCARF waits for inspection at STORE1 (1) and WH1 (1): say which location" in (
        page.locator("#form-errors").inner_text()
    )
    page.select_option("select[name=location]", "STORE1")
    page.click("button[data-action=inspect]")
    assert page.locator("#status").inner_text() == "received"  # a scarf still waits at WH1
    page.click("[data-action=inspect]")
    assert [cells(r)[0] for r in page.locator("#inspect-lines tbody tr").all()] == ["SCARF"]
    page.fill("input[aria-label='scrap SCARF']", "1")
    page.click("button[data-action=inspect]")
    assert page.locator("#status").inner_text() == "inspected"
    assert offered(page) == []
    stock = {
        (p.item.sku, p.location.code): (p.on_hand, p.damaged, p.quality_hold)
        for p in Position.objects.select_related("item", "location")
    }
    assert stock == {
        ("SCARF", "STORE1"): (1, 0, 0),
        ("JACKET", "STORE1"): (1, 1, 0),
        ("SCARF", "WH1"): (0, 0, 0),  # received, held, scrapped: written off
        ("JACKET", "WH1"): (0, 0, 0),
    }

    # Finance sees the quote before approving, then confirms exactly that amount.
    finance = browser.new_context(base_url=live_server.url).new_page()
    log_in(finance, "fiona", "fiona-pass-2026")
    finance.goto(f"/returns/{rid}/")
    # Scarves 2 of 3: 53.00 × 2/3 = 35.33 + 6% 2.12 + 2.5% 0.89 = 38.34. Jacket 1 of 2:
    # 144.00 / 2 = 72.00 + 4.32 + 1.80 = 78.12. No shipping on a partial return: 116.46.
    assert finance.locator("#refund-amount").inner_text() == "116.46 USD"
    assert offered(finance) == ["refund"]
    finance.click("[data-action=refund]")
    quote = finance.locator("#quote tbody tr")
    assert [cells(quote.nth(i)) for i in range(quote.count())] == [
        ["SCARF", "2", "40.00", "4.67", "35.33", "2.12", "0.89", "0.00", "38.34"],
        ["JACKET", "1", "80.00", "8.00", "72.00", "4.32", "1.80", "0.00", "78.12"],
        ["Shipping", "", "", "", "0.00", "0.00", "0.00", "", "0.00"],
    ]
    assert finance.locator("#quote thead th").all_inner_texts()[5:7] == ["Tax NY", "Tax NY-Kings"]
    assert finance.locator("#quote-total").inner_text() == "116.46 USD"
    finance.screenshot(path=str(_shots() / "return-refund-quote.png"), full_page=True)
    finance.click("button:has-text('Confirm refund of 116.46 USD')")

    assert finance.locator("#status").inner_text() == "refunded"
    assert "Refunded 116.46 USD." in finance.locator(".messages").inner_text()
    assert finance.locator("#refund-amount").inner_text() == "116.46 USD"
    assert offered(finance) == ["close"]
    steps = finance.locator("#timeline tbody tr td:nth-child(3)").all_inner_texts()
    assert steps == ["system", "system", "sam", "sam", "sam", "sam", "fiona"]
    finance.screenshot(path=str(_shots() / "return.png"), full_page=True)


def _shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
