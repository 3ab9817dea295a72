"""Finance follows a variance on the reconciliation dashboard down to its records: the payout
of tests/settlements (204.55 net, paid out, not yet in the bank) in November 2026."""

from __future__ import annotations

from typing import Any

import pytest

from retailsync.core.services import user_create
from tests.browser.conftest import log_in
from tests.settlements.flows import upload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_variance_leads_to_the_records_that_make_it(page: Any, stripe_orders: Any) -> None:
    assert upload("flows/stripe_po_first.csv", "stripe").status == "done"
    user_create(username="fiona", role="finance", password="fiona-pass-2026")
    log_in(page, "fiona", "fiona-pass-2026")
    page.goto("/reconciliation/?period=2026-11&channel=web")
    assert page.locator("nav [aria-current=page]").inner_text() == "Reconciliation"
    gap = page.locator('[data-channel=web] .variance.nonzero[data-pair="deposited-payouts"]')
    assert "-204.55" in gap.inner_text()  # paid out, not in the bank yet
    assert page.locator("svg[role=img]").count() == 3
    page.click('tr[data-channel=web] td[data-figure="payouts"] a')
    page.wait_for_url("**/reconciliation/payouts/**")
    assert "204.55 USD" in page.locator("#total").inner_text()
    rows = page.locator("#records tbody tr")
    assert rows.count() == 1 and "po_FIRST" in rows.first.inner_text()
    rows.first.locator("a").click()
    page.wait_for_url("**/settlements/*/")
    assert "po_FIRST" in page.content()
