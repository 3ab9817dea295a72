"""A finance morning in a real browser: the overview's card leads to the exceptions it counts,
two are taken and resolved together with a note, and a filtered list is exported and read
back (numbers as numbers, a formula quoted)."""

from __future__ import annotations

import csv
import io
import os
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from django.utils import timezone

from retailsync.core.models import ExceptionItem
from retailsync.core.services import exception_raise, user_create
from tests.browser.conftest import log_in
from tests.settlements.pages import L, batch_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(os.environ.get("SCREENSHOTS", "/tmp/retailsync-shots"))


def test_finance_follows_a_card_takes_two_exceptions_and_resolves_them_with_a_note(page, settings):
    settings.RETAILSYNC_EXCEPTION_SLA_HOURS = {"chargeback": 24}
    user_create(username="fiona", role="finance", password="fiona-pass-2026")
    now = timezone.now()
    late = [
        exception_raise(kind="chargeback", reason=f"dispute {n}", now=now - timedelta(hours=30))
        for n in (1, 2)
    ]
    fresh = exception_raise(kind="chargeback", reason="dispute 3", now=now)

    log_in(page, "fiona", "fiona-pass-2026")
    card = page.locator("[data-card=exceptions-overdue]")
    assert card.locator("[data-count]").inner_text() == "2"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)
    card.click()

    rows = page.locator("#exceptions tbody tr")
    assert rows.count() == 2
    assert "overdue since" in rows.first.inner_text()
    for item in late:
        page.check(f"input[name=pk][value='{item.pk}']")
    page.select_option("#bulk-action", "assign_me")
    page.click("#bulk button[type=submit]")
    assert "2 exception(s) assigned to fiona" in page.locator(".messages").inner_text()

    # Resolving without a note is refused and changes nothing.
    for item in late:
        page.check(f"input[name=pk][value='{item.pk}']")
    page.select_option("#bulk-action", "resolved")
    page.click("#bulk button[type=submit]")
    assert "resolution note is required" in page.locator(".messages").inner_text()
    assert ExceptionItem.objects.filter(status="open").count() == 3

    for item in late:
        page.check(f"input[name=pk][value='{item.pk}']")
    page.select_option("#bulk-action", "resolved")
    page.fill("#bulk-resolution", "Evidence sent to the provider")
    page.click("#bulk button[type=submit]")
    page.screenshot(path=str(SHOTS / "workbench.png"), full_page=True)

    assert "2 exception(s) resolved" in page.locator(".messages").inner_text()
    for item in late:
        item.refresh_from_db()
        assert (item.status, item.owner.username, item.resolution) == (
            "resolved",
            "fiona",
            "Evidence sent to the provider",
        )
    fresh.refresh_from_db()
    assert (fresh.status, fresh.owner) == ("open", None)


def test_finance_exports_a_filtered_batch_list_and_reads_the_file_back(page):
    user_create(username="fiona", role="finance", password="fiona-pass-2026")
    batch_make("po_even", [L("charge", "10.00", "-0.59")], payout="9.41")
    batch_make("=HYPERLINK(1)", [L("charge", "50.00", "-1.75")], payout="40.00")

    log_in(page, "fiona", "fiona-pass-2026")
    page.goto("/settlements/")
    page.select_option("select[name=variance]", "nonzero")
    page.click("#batch-filters button")
    assert page.locator("#batches tbody tr").count() == 1

    with page.expect_download() as xlsx_download:
        page.click("[data-export=xlsx]")
    with page.expect_download() as csv_download:
        page.click("[data-export=csv]")

    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_download.value.path().read_bytes())).active
    header, *rows = list(sheet.iter_rows(values_only=True))
    row = dict(zip(header, rows[0], strict=True))
    assert len(rows) == 1
    # 40.00 paid for 50.00 − 1.75 = 48.25 of lines: 8.25 short; numbers, not text.
    assert (row["Net"], row["Payout"], row["Variance"]) == (48.25, 40, -8.25)
    assert row["Payout id"] == "'=HYPERLINK(1)"
    text = Path(csv_download.value.path()).read_text()
    [line] = list(csv.DictReader(io.StringIO(text)))
    assert (line["Payout id"], line["Variance"]) == ("'=HYPERLINK(1)", "-8.25")
