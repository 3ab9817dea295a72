"""The overview in a real browser: a channel without locations is named, with how to fix it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from inventory.services import allocation_set, location_upsert
from retailsync.core.services import channel_create, user_create
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(os.environ.get("SCREENSHOTS", "/tmp/retailsync-shots"))


def test_the_overview_names_a_channel_without_locations_and_how_to_fix_it(page):
    for code in ("WH1", "STORE1"):
        location_upsert(code=code, kind="warehouse")
    channel_create(code="popup", source="canonical")
    web, _ = channel_create(code="web", source="canonical")
    allocation_set(channel=web, locations=["WH1", "STORE1"])
    user_create(username="fiona", role="finance", password="fiona-pass-2026")

    log_in(page, "fiona", "fiona-pass-2026")

    notice = page.locator("#unallocated")
    assert notice.is_visible()
    text = " ".join(notice.inner_text().split())
    assert text.startswith("popup has no locations: every order it sends is a backorder")
    assert "PUT /api/v1/channels/<code>/allocation" in text
    assert page.locator("tr[data-channel=web] td.locations").inner_text() == "WH1 → STORE1"
    assert (
        "every order is a backorder"
        in page.locator("tr[data-channel=popup] td.locations").inner_text()
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "overview-unallocated.png"), full_page=True)

    notice.locator("a").click()
    page.wait_for_url("**/admin/inventory/channelallocation/")
