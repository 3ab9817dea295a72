"""The journal run as `POST journals/run`, the command and the beat call it, outside any
transaction of theirs: its chunks post two at a time, each in a transaction on a connection of
its own (`journals.services.run.WORKERS`), and make what one chunk after the other makes.

Five copies of the two-jurisdiction order (tests/journals/test_sales.py's WHOLE_ORDER each)
shipped on one day, one shipment to a chunk, so that chunks wait for each other's draft; and
the Stripe payout of tests/journals/test_settlements.py, which settles the first of them, in
a chunk beside them."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from journals.models import JournalEntry, PostedSource
from journals.services import run
from journals.services.run import journals_run
from tests.conftest import events_held
from tests.journals.conftest import amounts, balanced, sold, sources_add_up
from tests.journals.test_sales import WHOLE_ORDER
from tests.journals.test_settlements import stripe_payout

pytestmark = pytest.mark.django_db(transaction=True)
NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)


def test_a_run_on_two_connections_posts_every_shipment_and_the_payout_once(books, monkeypatch):
    monkeypatch.setattr(run, "SHIPMENT_CHUNK", 1)
    threads: set[str] = set()
    on_own_connection = run._on_own_connection

    def spied(chunk: run.Chunk) -> set[int]:
        threads.add(threading.current_thread().name)
        return on_own_connection(chunk)

    monkeypatch.setattr(run, "_on_own_connection", spied)
    with events_held():  # nothing dispatched: the run posts it all
        for n in range(1, 6):
            sold(books, f"R-{n}")
        stripe_payout(books.channel)
    assert not JournalEntry.objects.exists()

    assert journals_run(period="2026-11", now=NOW) == 2
    assert threads and all(name.startswith("journals") for name in threads)

    sales = JournalEntry.objects.get(posting_date=date(2026, 11, 11))
    assert amounts(sales) == {
        k: (5 * debit, 5 * credit) for k, (debit, credit) in WHOLE_ORDER.items()
    }
    sources_add_up(sales)
    payout = JournalEntry.objects.get(posting_date=date(2026, 11, 14))
    assert balanced(payout)
    sources_add_up(payout)
    assert payout.lines.get(account__code="1150").debit == Decimal("77.45")
    assert PostedSource.objects.filter(event_name="order.shipped").count() == 5
    assert PostedSource.objects.filter(event_name="settlement.batch_matched").count() == 1

    assert journals_run(period="2026-11", now=NOW) == 0
