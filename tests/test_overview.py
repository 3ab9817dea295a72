"""The overview for finance: what needs action today, each card a link to the filtered list
that shows exactly as many records as the card counts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from retailsync.core.models import ExceptionItem
from retailsync.core.services import exception_raise
from tests.returns.conftest import shipped_order, shop  # noqa: F401  (the returns' shop)
from tests.returns.test_lifecycle import inspected
from tests.settlements.pages import L, batch_make, client_for

pytestmark = pytest.mark.django_db

ROWS = {"exception": "data-exception", "return": "data-return", "batch": "data-batch"}


def cards(page: str) -> dict[str, tuple[int, str]]:
    found = re.findall(
        r'<a class="card" href="([^"]+)" data-card="([^"]+)"[^>]*>.*?<b[^>]*data-count>([\d,]+)</b>',
        page,
        re.S,
    )
    return {key: (int(n.replace(",", "")), url.replace("&amp;", "&")) for url, key, n in found}


def rows_at(client, url: str) -> int:  # type: ignore[no-untyped-def]
    page = client.get(url)
    assert page.status_code == 200, url
    text = page.content.decode()
    return sum(len(re.findall(rf'<tr {attr}="', text)) for attr in ROWS.values())


def test_every_card_counts_what_its_filtered_list_shows(shop, settings):  # noqa: F811
    settings.RETAILSYNC_EXCEPTION_SLA_HOURS = {"chargeback": 24}
    now = timezone.now()
    for days, kind in (
        (0, "order_rejected"),
        (1, "backorder"),
        (2, "chargeback"),
        (10, "no_order"),
    ):
        exception_raise(kind=kind, reason=f"{days} days", now=now - timedelta(days=days))
    closed = exception_raise(kind="no_order", reason="old, closed", now=now - timedelta(days=9))
    ExceptionItem.objects.filter(pk=closed.pk).update(
        status="resolved", resolved_at=now, resolution="found"
    )
    inspected(
        shop, shipped_order(shop, "R-1"), [{"sku": "SCARF", "quantity": 1, "reason": "too_small"}]
    )
    batch_make("po_even", [L("charge", "10.00", "-0.59")], payout="9.41")
    batch_make("po_short", [L("charge", "50.00", "-1.75")], payout="40.00")
    batch_make("po_gone", [L("charge", "20.00")], payout="20.00", deposit_status="missing")
    batch_make("po_eur", [L("charge", "183.32")], payout="180.00", currency="EUR")
    finance = client_for("finance")

    page = finance.get("/").content.decode()
    shown = cards(page)

    assert {k: n for k, (n, _) in shown.items()} == {
        "exceptions-today": 1,
        "exceptions-1-3-days": 2,
        "exceptions-older": 1,
        "exceptions-overdue": 2,  # the 2-day chargeback (24 h) and the 10-day no_order (48 h)
        "refunds-awaiting": 1,
        "batches-variance": 2,
        "deposits-missing": 1,
        "journals-draft": 0,
        "journals-approved": 0,
    }
    for key, (count, url) in shown.items():
        if key.startswith("journals"):
            assert url.startswith("/journals/?status=")  # the journal pages' own list
            continue
        assert rows_at(finance, url) == count, key
    # Variances per currency, with their signs: 40.00 − 48.25 and 180.00 − 183.32.
    variance_card = page[page.index('data-card="batches-variance"') :]
    variance_card = variance_card[: variance_card.index("</a>")]
    assert '<span class="nowrap" data-amount="EUR">-€3.32</span>' in variance_card
    assert '<span class="nowrap" data-amount="USD">-$8.25</span>' in variance_card
    assert '<span class="nowrap" data-amount="USD">$20.00</span>' in page  # missing deposit
