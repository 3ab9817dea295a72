"""The back office on a phone and with assistive technology: finance and operations walk their
pages in chromium at 390 × 844. On every page nothing widens the page past the screen (wide
tables scroll in place), every form control has a label, the navigation is a landmark with the
current page marked, and the outcome messages sit in a live region."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from orders.models import Order
from returns.models import Return
from settlements.models import SettlementBatch
from tests.browser.conftest import log_in
from tests.settlements.flows import upload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(os.environ.get("SCREENSHOTS", "/tmp/retailsync-shots")) / "phone"
PHONE = {"width": 390, "height": 844}

# Each control's name from a <label> (wrapping it or by `for`), aria-label or aria-labelledby:
# no placeholder or title standing in for a label.
UNLABELLED = """() => [...document.querySelectorAll(
    'input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea')]
  .filter(el => {
    const text = node => (node && node.textContent || '').trim();
    if ([...(el.labels || [])].some(label => text(label))) return false;
    if ((el.getAttribute('aria-label') || '').trim()) return false;
    const ids = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
    return !ids.some(id => text(document.getElementById(id)));
  })
  .map(el => el.outerHTML.slice(0, 160))"""
OVERFLOW = """() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
  widest: [...document.querySelectorAll('body *')]
    .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1
                  && !el.closest('table, .table-scroll, .table-container, pre'))
    .slice(0, 3).map(el => el.outerHTML.slice(0, 120))})"""


@pytest.fixture
def back_office(stripe_orders: Any) -> dict[str, str]:
    """The demo retailer (orders from every source, stock, returns, exceptions), and a Stripe
    payout read against the suite's web shop: every list finance and operations open has rows."""
    call_command("seed_demo", orders_per_channel=3, json=True)
    upload("flows/stripe_po_first.csv", "stripe")
    order = Order.objects.order_by("pk").first()
    ret = Return.objects.order_by("pk").first()
    batch = SettlementBatch.objects.order_by("pk").first()
    assert order and ret and batch
    return {"order": f"/orders/{order.pk}/", "return": f"/returns/{ret.pk}/",
            "batch": f"/settlements/{batch.pk}/"}  # fmt: skip


def pages(records: dict[str, str], *, finance: bool) -> list[tuple[str, str]]:
    """(path, the navigation item marked current there)."""
    visited = [
        ("/", "Overview"),
        ("/orders/", "Orders"),
        (records["order"], "Orders"),
        ("/stock/", "Stock"),
        ("/stock/MUG-WHT/", "Stock"),
        ("/availability/", "Availability"),
        ("/returns/", "Returns"),
        (records["return"], "Returns"),
        ("/exceptions/", "Exceptions"),
    ]
    if finance:
        visited += [
            ("/settlements/", "Settlements"),
            (records["batch"], "Settlements"),
            ("/settlements/upload/", "Settlements"),
            ("/journals/", "Journals"),
            ("/reconciliation/", "Reconciliation"),
        ]
    return visited


@pytest.mark.parametrize(("username", "finance"), [("finance", True), ("ops", False)])
def test_every_page_fits_a_phone_labels_its_controls_and_marks_where_you_are(
    browser, live_server, back_office, username, finance
):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    page = context.new_page()
    try:
        log_in(page, username, "demo-pass-2026")
        problems: list[str] = []
        for path, current in pages(back_office, finance=finance):
            response = page.goto(path)
            assert response is not None and response.status == 200, path
            problems += audit(page, path, current)
            SHOTS.mkdir(parents=True, exist_ok=True)
            name = path.strip("/").replace("/", "-") or "overview"
            page.screenshot(path=str(SHOTS / f"{username}-{name}.png"), full_page=True)

        nav = page.get_by_role("navigation", name="Main")
        assert (nav.get_by_role("link", name="Reconciliation").count() == 1) is finance
        assert (nav.get_by_role("link", name="Settlements").count() == 1) is finance
        assert (nav.get_by_role("link", name="Journals").count() == 1) is finance
        assert problems == []
    finally:
        context.close()


def audit(page: Any, path: str, current: str) -> list[str]:
    problems = []
    width = page.evaluate(OVERFLOW)
    if width["scroll"] > width["inner"]:
        problems.append(f"{path}: page is {width['scroll']} px wide: {width['widest']}")
    for control in page.evaluate(UNLABELLED):
        problems.append(f"{path}: no label: {control}")
    nav = page.get_by_role("navigation", name="Main")
    marked = nav.locator("[aria-current=page]")
    if marked.count() != 1 or marked.inner_text().strip() != current:
        problems.append(f"{path}: current item {marked.all_inner_texts()}, not {current!r}")
    if page.locator("[role=status][aria-live=polite]").count() != 1:
        problems.append(f"{path}: no live region for messages")
    if page.locator("main#main").count() != 1:
        problems.append(f"{path}: no main landmark to skip to")
    return problems


def test_an_outcome_message_is_in_the_live_region_and_the_queue_scrolls_on_a_phone(
    browser, live_server, back_office
):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    page = context.new_page()
    try:
        log_in(page, "finance", "demo-pass-2026")
        page.goto("/exceptions/")
        # An exception is resolved on its own page, where the (required) note is asked for.
        page.locator("#exceptions tbody tr").first.locator("a[href^='/exceptions/']").click()
        page.locator("#close-resolution").fill("Resent by the channel")
        page.locator("#close button[value=resolved]").click()

        status = page.get_by_role("status")
        assert status.inner_text().strip().endswith("resolved.")
        # The queue is wider than the phone: it scrolls sideways, the page does not.
        page.goto("/exceptions/?status=")
        table = page.locator("#exceptions")
        sizes = table.evaluate("t => ({scroll: t.scrollWidth, client: t.clientWidth})")
        assert sizes["scroll"] > sizes["client"]
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()
