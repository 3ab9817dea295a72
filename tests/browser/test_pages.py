"""A finance user's path through the back office, in a real browser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retailsync.core.models import ExceptionItem
from retailsync.core.services import channel_create, user_create
from tests.browser.conftest import log_in
from tests.orders.payloads import canonical_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(os.environ.get("SCREENSHOTS", "/tmp/retailsync-shots"))


@pytest.fixture
def finance_user(db) -> tuple[str, str]:
    user_create(username="fiona", role="finance", password="fiona-pass-2026")
    return "fiona", "fiona-pass-2026"


@pytest.fixture
def web_channel(db):  # type: ignore[no-untyped-def]
    from rest_framework.test import APIClient

    _, token = channel_create(code="web", source="canonical")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_finance_logs_in_and_resolves_a_rejected_order_from_the_exception_queue(
    page, finance_user, web_channel
):
    web_channel.post("/api/v1/channels/web/orders", canonical_order(total="99.00"), format="json")
    web_channel.post(
        "/api/v1/channels/web/orders", canonical_order(external_id="WEB-1002"), format="json"
    )

    log_in(page, *finance_user)
    page.click("text=Exceptions")
    # The shop has no item master yet, so its accepted order raised unknown-SKU exceptions too.
    page.select_option("select[name=kind]", "order_rejected")
    page.click("#exception-filters button")

    rows = page.locator("#exceptions tbody tr")
    assert rows.count() == 1
    assert "add up to 70.21, but the order total is 99.00" in rows.first.inner_text()
    assert "web order WEB-1001" in rows.first.inner_text()
    # The rejected order, and one unknown-SKU exception listing both SKUs of the accepted one.
    assert page.locator("[data-bucket='0-1 d']").inner_text() == "2"
    assert page.locator("[data-bucket='30+ d']").inner_text() == "0"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "exceptions.png"), full_page=True)

    # The note is required: the exception's page says so and leaves it open without one.
    rows.first.locator("a[href^='/exceptions/']").click()
    page.locator("#close-resolution").fill("Channel resent with the right total")
    page.locator("#close button[value=resolved]").click()

    assert page.locator(".messages").inner_text().strip().endswith("resolved.")
    page.goto("/exceptions/?kind=order_rejected")
    assert "No exceptions match." in page.locator("#exceptions tbody").inner_text()
    item = ExceptionItem.objects.get(kind="order_rejected")
    assert (item.status, item.resolved_by.username) == ("resolved", "fiona")
    assert item.resolution == "Channel resent with the right total"


def test_an_order_page_shows_lines_tax_payments_and_its_raw_message(
    page, finance_user, web_channel
):
    web_channel.post("/api/v1/channels/web/orders", canonical_order(), format="json")

    log_in(page, *finance_user)
    page.click("text=Orders")
    page.locator("#orders tbody tr").first.locator("a").click()

    assert page.locator("[data-total]").inner_text() == "$70.21"
    lines = page.locator("#lines tbody tr")
    assert lines.count() == 2
    assert lines.first.inner_text().split("\t")[:4] == ["TSHIRT-BLK-M", "", "2", "$24.50"]
    assert "ch_3PqWeb1001" in page.content()
    assert '"external_id":"WEB-1001"' in page.locator("pre").first.inner_text()  # as received
    assert "order.accepted" in page.locator("table.trace").inner_text()
    page.screenshot(path=str(SHOTS / "order.png"), full_page=True)


def test_a_page_asks_for_login_first(page, db):
    page.goto("/exceptions/")
    assert "/login/" in page.url


def test_operations_read_stock_an_items_ledger_and_a_channels_availability(page, db):
    from datetime import UTC, datetime

    from inventory.availability import availability_refresh_all
    from inventory.services import (
        EventInput,
        allocation_set,
        item_upsert,
        location_upsert,
        stock_events_apply,
    )

    user_create(username="otto", role="operations", password="otto-pass-2026")
    location_upsert(code="WH1", kind="warehouse")
    item_upsert(sku="TEE", description="Tee")
    channel, _ = channel_create(code="web", source="canonical")
    allocation_set(channel=channel, locations=["WH1"], safety_stock=2)
    when = datetime(2026, 11, 20, tzinfo=UTC)
    stock_events_apply(
        events=[
            EventInput("r1", "wms", "receipt", "TEE", "WH1", 12, when),
            EventInput("d1", "wms", "damage", "TEE", "WH1", 1, when),
        ]
    )
    availability_refresh_all()

    log_in(page, "otto", "otto-pass-2026")
    page.click("text=Stock")
    row = page.locator("#positions tbody tr").first
    assert row.inner_text().split("\t")[:8] == ["TEE", "WH1", "12", "0", "1", "0", "0", "11"]

    row.locator("a").click()
    reasons = page.locator("#ledger tbody tr td:nth-child(4)").all_inner_texts()
    assert reasons == ["damage", "receipt"]

    page.click("text=Availability")
    cells = page.locator("#availability tbody tr").first.inner_text().split("\t")
    assert cells[:3] == ["TEE", "11", "9"]
    assert cells[3] == "pool 11 at WH1 − safety 2 = 9"
    page.screenshot(path=str(SHOTS / "availability.png"), full_page=True)
