"""Finance drills down through a journal entry in chromium: the entry list, the entry with its
lines, a source link down to the order, and the order's journal section linking back up."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from journals.models import JournalEntry
from retailsync.core.services import user_create
from tests.browser.conftest import log_in
from tests.journals.conftest import books, dispatch  # noqa: F401  (the retailer with books)
from tests.journals.pages import sold_numbered

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(os.environ.get("SCREENSHOTS", "/tmp/retailsync-shots"))


def test_finance_goes_from_an_entry_down_to_an_order_and_back_up(page, books):  # noqa: F811
    user_create(username="fay", role="finance", password="fay-pass-2026")
    order_id = sold_numbered(books)  # #1001: one USD entry, debits 322.60
    dispatch()
    entry = JournalEntry.objects.get()
    revenue = entry.lines.get(account__code="4000")

    log_in(page, "fay", "fay-pass-2026")
    page.goto("/journals/")
    row = page.locator(f"#entries tr[data-entry='{entry.pk}']")
    assert "322.60 USD" in row.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "journals.png"), full_page=True)
    row.locator(f"text={entry.number}").click()
    page.wait_for_url(f"**/journals/{entry.pk}/")

    assert page.locator("[data-figure=debit]").inner_text() == "322.60 USD"
    assert page.locator("#lines tbody tr").count() == 8
    page.screenshot(path=str(SHOTS / "journal-entry.png"), full_page=True)
    source = page.locator(f"#sources-{revenue.pk} tr[data-source='order:{order_id}']")
    assert source.inner_text().split("\t") == ["order", "#1001", "220.00 USD"]
    source.locator("a").click()
    page.wait_for_url(f"**/orders/{order_id}/")

    panel = page.locator("#journal-lines")
    assert "Journal lines" in panel.inner_text()
    assert panel.locator("tbody tr").count() == 8
    page.screenshot(path=str(SHOTS / "order-journal-lines.png"), full_page=True)
    panel.locator(f"a[href='/journals/{entry.pk}/#sources-{revenue.pk}']").click()
    page.wait_for_url(f"**/journals/{entry.pk}/#sources-{revenue.pk}")
    assert page.locator("h1").inner_text().startswith(f"Journal entry {entry.number}")
