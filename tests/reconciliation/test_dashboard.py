"""The reconciliation dashboard and its JSON, by the Stripe payout of tests/settlements: three
orders placed 2026-11-20 (70.21 + 100.00 + 50.00 = 220.21, expected alike two days later),
settled 212.21 gross (12.00 of it for an unknown order) less 7.66 fees = 204.55, paid out on
2026-11-24, not yet in the bank, nothing shipped or posted."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.settlements.flows import upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def settled(stripe_orders: Any) -> Any:
    assert upload("flows/stripe_po_first.csv", "stripe").status == "done"
    return stripe_orders


def test_the_json_gives_each_figure_and_the_variances(settled: Any, staff: Any) -> None:
    answer = staff("finance").get("/api/v1/reconciliation/?period=2026-11&channel=web")
    assert answer.status_code == 200, answer.json()
    [row] = answer.json()["rows"]
    assert {k: row[k] for k in ("channel", "currency", "orders", "shipped", "expected")} == {
        "channel": "web",
        "currency": "USD",
        "orders": "220.21",
        "shipped": "0.00",
        "expected": "220.21",
    }
    assert (row["settled_gross"], row["fees"], row["settled_net"]) == ("212.21", "-7.66", "204.55")
    assert (row["payouts"], row["deposited"], row["posted"]) == ("204.55", "0.00", "0.00")
    assert row["variances"]["settled_gross-expected"] == "-8.00"
    assert row["variances"]["deposited-payouts"] == "-204.55"
    assert row["variances"]["payouts-settled_net"] == "0.00"


def test_bad_queries_are_refused_by_name(staff: Any, db: None) -> None:
    finance = staff("finance")
    assert finance.get("/api/v1/reconciliation/?period=2026-13").status_code == 400
    for edge in ("0000-01", "9999-12"):  # no date holds them and the month after (a 500 before)
        assert finance.get(f"/api/v1/reconciliation/?period={edge}").status_code == 400
    unknown = finance.get("/api/v1/reconciliation/?period=2026-11&colour=red")
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "colour"
    assert staff("operations").get("/api/v1/reconciliation/?period=2026-11").status_code == 403


def login(role: str) -> Client:
    from retailsync.core.services import user_create

    user, _ = user_create(username=f"{role}-page", role=role, password="pw-123456789")
    client = Client()
    client.force_login(user)
    return client


def test_the_page_shows_the_figures_and_each_drills_down_to_its_total(
    settled: Any, django_assert_max_num_queries: Any
) -> None:
    finance = login("finance")
    with django_assert_max_num_queries(40):
        page = finance.get("/reconciliation/?period=2026-11&channel=web")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-figure="settled_net"' in html and "204.55" in html and "220.21" in html
    assert "<svg" in html and 'id="trend"' in html and 'id="rates"' in html
    assert 'class="variance nonzero" data-pair="deposited-payouts"' in html
    records = finance.get(
        "/reconciliation/settled_net/?start=2026-11-01&end=2026-11-30&channel=web"
    )
    assert records.status_code == 200
    body = records.content.decode()
    assert 'id="total">204.55 USD' in body and "Total of 4 records" in body
    assert login("operations").get("/reconciliation/").status_code == 403


def test_the_number_of_queries_does_not_grow_with_the_data(
    stripe_orders: Any, django_assert_max_num_queries: Any
) -> None:
    finance = login("finance")
    with django_assert_max_num_queries(40) as few:
        finance.get("/reconciliation/?period=2026-11")
    for name in ("first", "second", "third"):
        upload(f"flows/stripe_po_{name}.csv", "stripe")
    with django_assert_max_num_queries(len(few.captured_queries)):
        finance.get("/reconciliation/?period=2026-11")
