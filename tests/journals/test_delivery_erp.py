"""An entry posted through one of the shipped adapters (Odoo's JSON-RPC), end to end: the legal
entity names its ERP, the environment gives its credentials, the local Odoo of the adapters'
tests checks the calls as Odoo documents them."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from journals.models import JournalEntry
from tests.journals.conftest import dispatch, sold
from tests.journals.erp.test_odoo import API_KEY, DB, UID, OdooRpc

pytestmark = pytest.mark.django_db


@pytest.fixture
def odoo() -> Iterator[OdooRpc]:
    server = OdooRpc()
    yield from server.serve()
    assert server.violations == []


def test_an_entry_is_posted_to_odoo_as_a_posted_account_move(
    books,
    odoo: OdooRpc,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    entity = books.channel.legal_entity
    entity.erp = "odoo"
    entity.save()
    for name, value in {
        "URL": odoo.url,
        "DB": DB,
        "UID": str(UID),
        "PASSWORD": API_KEY,
        "JOURNAL_ID": "7",
        "LEGAL_ENTITY": "1",  # Odoo's company id
    }.items():
        monkeypatch.setenv(f"ERP_US01_{name}", value)
    sold(books)
    dispatch()
    entry = JournalEntry.objects.get()
    assert books.finance.post(f"/api/v1/journals/{entry.pk}/approve").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        assert books.finance.post(f"/api/v1/journals/{entry.pk}/post").status_code == 202

    entry.refresh_from_db()
    assert (entry.status, entry.erp_document_id) == ("posted", "42")
    move = odoo.moves[42]
    assert (move["state"], move["journal_id"], move["date"]) == ("posted", 7, "2026-11-11")
    by_account = {}
    for li in move["line_ids"]:
        by_account[li["account_id"]] = by_account.get(li["account_id"], Decimal(0)) + (
            li["debit"] - li["credit"]
        )
    assert by_account[1100] == Decimal("224.60")
    assert by_account[4000] == Decimal("-220.00")
    assert sum(by_account.values()) == 0
    assert API_KEY not in entry.deliveries.get().request
