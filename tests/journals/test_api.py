"""The read side and the run through the API (API.md), the command, and the export."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from beancount import loader
from beancount.core import realization
from django.core.management import call_command

from journals.models import JournalEntry
from retailsync.core.models import DomainEvent
from tests.journals.conftest import dispatch, sold

pytestmark = pytest.mark.django_db
D = Decimal


def test_entries_of_a_period_show_their_lines_and_each_line_s_sources(books):
    order_id = sold(books)
    dispatch()
    entry = JournalEntry.objects.get()

    response = books.finance.get("/api/v1/journals/?period=2026-11")

    assert response.status_code == 200
    [listed] = response.json()["results"]
    assert (listed["number"], listed["currency"], listed["status"]) == (
        entry.number,
        "USD",
        "draft",
    )
    assert (listed["debit"], listed["credit"]) == ("322.60", "322.60")
    revenue = next(x for x in listed["lines"] if x["account"] == "4000")
    assert revenue == {
        "id": revenue["id"],
        "account": "4000",
        "account_name": "Sales revenue",
        "erp_account": "",
        "debit": "0.00",
        "credit": "220.00",
        "dimensions": {},
        "description": "Sales revenue",
        "fx_rate": None,
        "fx_rate_source": "",
        "sources_count": 1,
        "sources": [{"type": "order", "id": order_id, "amount": "220.00"}],
    }
    detail = books.finance.get(f"/api/v1/journals/{entry.pk}").json()
    assert detail["lines"] == listed["lines"]
    assert detail["deliveries"] == []
    assert books.finance.get("/api/v1/journals/?period=2026-12").json()["results"] == []
    paged = books.finance.get(f"/api/v1/journals/{entry.pk}/lines/{revenue['id']}/sources")
    assert paged.json()["results"] == [{"type": "order", "id": order_id, "amount": "220.00"}]
    # A line that is not there, not this entry's, or past any integer: 404, never an empty page.
    for path in (
        f"{entry.pk}/lines/{revenue['id'] + 10_000}",
        f"{entry.pk + 10_000}/lines/{revenue['id']}",
        f"{entry.pk}/lines/9223372036854775808",
        f"9223372036854775808/lines/{revenue['id']}",
    ):
        assert books.finance.get(f"/api/v1/journals/{path}/sources").status_code == 404, path


def test_the_way_up_from_an_order_to_the_journal_lines_it_fed(books):
    order_id = sold(books)
    dispatch()

    fed = books.finance.get(f"/api/v1/journals/lines/?type=order&id={order_id}").json()["results"]

    assert sorted((x["account"], x["amount"]) for x in fed) == [
        ("1100", "224.60"),
        ("1200", "75.00"),
        ("2200", "12.42"),
        ("2200", "5.18"),
        ("4000", "220.00"),
        ("4010", "10.00"),
        ("4050", "23.00"),
        ("5000", "75.00"),
    ]
    assert {x["number"] for x in fed} == {JournalEntry.objects.get().number}


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/journals/?period=2026-1", "period"),
        ("/api/v1/journals/lines/?type=invoice&id=1", "type"),
        ("/api/v1/journals/lines/?type=order&id=x", "id"),
        ("/api/v1/journals/export?period=2026-11&format=xlsx", "format"),
    ],
)
def test_a_malformed_query_is_a_400_naming_it(books, path, field):
    response = books.finance.get(path)
    assert response.status_code == 400
    assert field in [e["field"] for e in response.json()["errors"]]


def test_the_run_builds_what_is_not_journaled_and_adds_nothing_the_second_time(books):
    sold(books)  # its event waits: nobody dispatched it
    assert DomainEvent.objects.filter(name="order.shipped", dispatched_at=None).exists()

    first = books.finance.post("/api/v1/journals/run", {"period": "2026-11"}, format="json")
    again = books.finance.post("/api/v1/journals/run", {"period": "2026-11"}, format="json")

    assert (first.status_code, first.json()) == (200, {"entries": 1})
    assert (again.status_code, again.json()) == (200, {"entries": 0})
    dispatch()  # the subscriber now finds it posted
    assert JournalEntry.objects.get().lines.count() == 8
    refused = books.finance.post(
        "/api/v1/journals/run", {"period": "2026-11", "force": True}, format="json"
    )
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (400, "force")
    assert (
        books.finance.post("/api/v1/journals/run", {"period": "11/2026"}, format="json").status_code
        == 400
    )
    assert (
        books.ops.post("/api/v1/journals/run", {"period": "2026-11"}, format="json").status_code
        == 403
    )


def test_post_journals_does_what_the_run_does(books):
    sold(books)
    out = io.StringIO()
    call_command("post_journals", "--period", "2026-11", stdout=out)
    assert json.loads(out.getvalue()) == {"period": "2026-11", "entries": 1}
    out = io.StringIO()
    call_command("post_journals", "--period", "2026-11", stdout=out)
    assert json.loads(out.getvalue())["entries"] == 0


def test_the_period_exports_as_csv_and_as_a_beancount_ledger_bean_check_accepts(books):
    sold(books)
    sold(books, "R-2", when="2026-11-12T10:00:00Z")
    dispatch()

    csv_text = books.finance.get("/api/v1/journals/export?period=2026-11&format=csv")
    assert csv_text.status_code == 200
    assert csv_text["Content-Type"].startswith("text/csv")
    rows = csv_text.content.decode().splitlines()
    assert len(rows) == 1 + 16  # header, 8 lines per day
    ledger = books.finance.get("/api/v1/journals/export?period=2026-11&format=beancount")
    entries, errors, _options = loader.load_string(ledger.content.decode())

    assert errors == []
    balances = {
        acc.account: acc.balance.get_currency_units("USD").number
        for acc in realization.iter_children(realization.realize(entries))
        if not acc.balance.is_empty()
    }
    assert balances["Assets:US01:1100-Channel-clearing"] == D("449.20")
    assert balances["Income:US01:4000-Sales-revenue"] == D("-440.00")
    assert sum(balances.values()) == 0
