"""A Stripe payout through finance's pages in chromium: the file uploaded from the page, the
progress bar followed to done while a real worker reads it, the batch's figures, its unmatched
line filtered out, the orders it might be, and a click that matches it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from rest_framework.test import APIClient

from retailsync.celery import app as celery_app
from retailsync.core.coalesce import requests_forget
from retailsync.core.services import channel_create, user_create
from settlements.models import ExpectedSettlement, SettlementLine
from tests.browser.conftest import log_in
from tests.orders.payloads import canonical_order

pytestmark = [
    pytest.mark.browser,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]
SHOTS = Path(os.environ.get("SCREENSHOTS", "/tmp/retailsync-shots"))

# Stripe's itemized payout reconciliation report (formats.md §4): fees positive, net = gross −
# fee. Order #1001's charge comes with its charge id; the second charge, 70.00 paid on a 70.21
# order, names no order and a charge id nobody knows, and is for a person to place.
# Lines: 70.21 − 2.34 = 67.87 and 70.00 − 2.34 = 67.66; gross 140.21, fees −4.68, net 135.53.
STRIPE_PAYOUT = (
    "automatic_payout_id,automatic_payout_effective_at,balance_transaction_id,created_utc,"
    "available_on_utc,currency,gross,fee,net,reporting_category,source_id,charge_id,"
    "payment_intent_id,payment_metadata[order_id]\n"
    "po_1Brw,2026-11-23 00:00:00,txn_1Brw,2026-11-20 19:05:00,2026-11-23 00:00:00,usd,70.21,"
    "2.34,67.87,charge,ch_3PqWeb1001,ch_3PqWeb1001,pi_1Brw,WEB-1001\n"
    "po_1Brw,2026-11-23 00:00:00,txn_2Brw,2026-11-21 10:00:00,2026-11-23 00:00:00,usd,70.00,"
    "2.34,67.66,charge,ch_3Lost,ch_3Lost,pi_2Brw,\n"
)


@pytest.fixture
def shop(db, settings, tmp_path) -> Iterator[None]:
    """Fiona of finance; the web channel's orders #1001 and #1002 (70.21 USD each, paid by
    Stripe), #1002 placed an hour before the unknown charge. Files go to a temporary folder."""
    settings.MEDIA_ROOT = tmp_path
    user_create(username="fiona", role="finance", password="fiona-pass-2026")
    _, token = channel_create(code="web", source="canonical")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    for number, placed in (("1001", "2026-11-20T14:03:00-05:00"), ("1002", "2026-11-21T09:00:00Z")):
        response = api.post(
            "/api/v1/channels/web/orders",
            canonical_order(
                external_id=f"WEB-{number}",
                order_number=f"#{number}",
                placed_at=placed,
                payments=[
                    {"gateway": "stripe", "reference": f"ch_3PqWeb{number}", "amount": "70.21"}
                ],
            ),
            format="json",
        )
        assert response.status_code == 201, response.json()
    assert ExpectedSettlement.objects.count() == 2  # the events ran eagerly, in the request
    yield


@pytest.fixture
def held_tasks() -> Iterator[None]:
    """Tasks go to the real broker and wait there until the test starts a worker."""
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    requests_forget(celery_app)
    yield
    celery_app.conf.task_always_eager = True


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def test_finance_uploads_a_stripe_payout_watches_it_read_and_matches_the_line_left_over(
    page, live_server, shop, held_tasks, tmp_path
):
    report = tmp_path / "stripe-po_1Brw.csv"
    report.write_text(STRIPE_PAYOUT)
    log_in(page, "fiona", "fiona-pass-2026")
    page.click("header >> text=Settlements")
    page.click("text=Upload a settlement file or bank statement")

    page.get_by_label("Settlement or bank statement file").set_input_files(str(report))
    page.get_by_label("Provider or format").select_option("stripe")
    page.get_by_label("Channel (optional)").select_option("web")
    _shot(page, "settlement-upload-form.png")
    page.click("#upload button[type=submit]")

    # No worker yet: the page says where the upload stands, with a link to look again.
    page.wait_for_url("**/settlements/uploads/*/")
    status = page.locator("#upload-status")
    assert status.get_attribute("data-status") == "queued"
    assert page.locator("#upload-progress").get_attribute("value") == "0"
    assert page.locator("#upload-refresh a").inner_text() == "Refresh"
    page.evaluate("window.stayed = true")  # gone if the page were loaded again
    _shot(page, "settlement-upload-queued.png")

    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10
    ):
        page.wait_for_selector("#upload-status[data-status=done]", timeout=30_000)

    assert page.evaluate("window.stayed") is True  # the script moved the bar, in place
    assert page.locator("#upload-progress").get_attribute("value") == "100"
    assert page.locator("#upload-refresh").count() == 0
    assert status.inner_text() == (
        "done Done: 2 rows read into 1 batch, 1 line matched, 1 unmatched."
    )
    assert status.get_attribute("aria-live") == "polite"
    _shot(page, "settlement-upload-done.png")

    page.click("#upload-batches >> text=po_1Brw")
    figures = {
        name: page.locator(f"#figures [data-figure={name}]").inner_text()
        for name in ("gross", "fees", "refunds", "net", "payout", "variance", "match-rate")
    }
    assert figures == {
        "gross": "140.21",
        "fees": "-4.68",
        "refunds": "0.00",
        "net": "135.53",
        "payout": "135.53",
        "variance": "0.00",
        "match-rate": "50.0% (1/2)",
    }

    page.get_by_label("Outcome").select_option("unmatched")
    page.click("#line-filters button")
    lines = page.locator("#lines tbody tr")
    assert lines.count() == 1
    assert lines.first.locator("td").nth(2).inner_text() == "ch_3Lost"
    _shot(page, "settlement-batch-unmatched.png")
    lines.first.locator("text=find the order…").click()

    # #1002 is as far from 70.00 as #1001 (0.21), but placed an hour before the charge.
    candidates = page.locator("#candidates tbody tr")
    assert [candidates.nth(i).locator("td").first.inner_text() for i in range(2)] == [
        "#1002",
        "#1001",
    ]
    assert page.locator("#outcome").inner_text() == "unmatched"
    _shot(page, "settlement-line-candidates.png")
    page.get_by_role("button", name="Match line 3 to order #1002").click()

    assert page.locator("#outcome").inner_text() == "matched"
    assert page.locator("#line-order").inner_text() == "#1002"
    assert "matched to order #1002" in page.locator(".messages").inner_text()
    line = SettlementLine.objects.get(line_key="txn_2Brw")
    assert (line.outcome, line.order.order_number, line.manual) == ("matched", "#1002", True)

    page.click("h1 >> text=Stripe po_1Brw")
    assert page.locator("#figures [data-figure=match-rate]").inner_text() == "100.0% (2/2)"

    # The order page tells finance what settled #1002: the 70.00 it was paid, 0.21 short.
    page.click("#lines >> text=#1002")
    assert page.locator("#settlement-status").inner_text() == "expected"
    assert page.locator("#settlement [data-figure=settled]").inner_text() == "70.00"
    assert page.locator("#settlement [data-figure=variance]").inner_text() == "-0.21"
    _shot(page, "settlement-order.png")
    page.click("header >> text=Settlements")
    _shot(page, "settlement-list.png")
