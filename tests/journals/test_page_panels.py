"""The way up from the return and settlement line pages to the journal lines they fed, and back
down from the entry: each record's part in each line, to the cent, with the entry's link."""

from __future__ import annotations

from datetime import date

import pytest

from journals.models import JournalEntry
from returns.models import ReturnPolicy
from settlements.models import SettlementLine
from tests.journals.conftest import dispatch
from tests.journals.pages import page_client, rows, section, sold_numbered, source_rows
from tests.journals.test_returns import act, credit_memo, returned
from tests.journals.test_settlements import stripe_payout

pytestmark = pytest.mark.django_db


def test_the_return_page_shows_its_credit_memo_lines_and_the_memo_links_back(books):
    """Two scarves of three back (one restocked, one damaged) with a 10% restocking fee:
    revenue 35.33, tax NY 2.12 and NY-Kings 0.89 back, fee 3.53 kept, 34.81 to the card; the
    restocked scarf 5.00 to inventory, the damaged one 5.00 written down, COGS 10.00 back
    (tests/journals/test_returns.py works them out)."""
    ReturnPolicy.objects.create(channel=books.channel, restocking_fee_percent={"changed_mind": 10})
    order_id = sold_numbered(books)
    rid = returned(books, order_id, "SCARF", 2, "changed_mind", {"restock": 1, "damaged": 1})
    act(books.finance, rid, "close")
    dispatch()
    memo = credit_memo(rid)

    page = page_client(books.finance).get(f"/returns/{rid}/").content.decode()

    fed = rows(section(page, "journal-lines"), "journal-lines-fed")
    assert {r[0] for r in fed} == {memo.number}
    assert sorted((r[3], r[4], r[5], r[6]) for r in fed) == [
        ("1100 Channel clearing", "Channel clearing (stripe)", "credit", "34.81 USD"),
        ("1200 Inventory", "Inventory", "debit", "5.00 USD"),
        ("2200 Sales tax payable", "Tax payable NY", "debit", "2.12 USD"),
        ("2200 Sales tax payable", "Tax payable NY-Kings", "debit", "0.89 USD"),
        ("4000 Sales revenue", "Sales revenue", "debit", "35.33 USD"),
        ("4060 Restocking fees", "Restocking fees", "credit", "3.53 USD"),
        ("5000 Cost of goods sold", "Cost of goods sold", "credit", "10.00 USD"),
        ("5010 Inventory write-downs", "Inventory write-downs", "debit", "5.00 USD"),
    ]
    assert f'href="/journals/{memo.pk}/#sources-' in page

    entry_page = page_client(books.finance).get(f"/journals/{memo.pk}/").content.decode()
    fee = memo.lines.get(account__code="4060")
    assert source_rows(section(entry_page, f"sources-{fee.pk}")) == {
        f"return:{rid}": (["return", f"RMA-{rid}", "3.53 USD"], f"/returns/{rid}/")
    }
    assert (
        'id="journal-lines"' not in page_client(books.ops).get(f"/returns/{rid}/").content.decode()
    )


def test_the_settlement_line_page_shows_the_lines_it_fed_and_the_entry_links_back(books):
    """The charge txn_1 of payout po_1 (224.60 less its 6.81 fee) relieves the sale's clearing
    and is a part of the fees line (tests/journals/test_settlements.py)."""
    sold_numbered(books)
    dispatch()
    stripe_payout(books.channel)
    dispatch()
    entry = JournalEntry.objects.get(posting_date=date(2026, 11, 14))
    charge = SettlementLine.objects.get(line_key="txn_1")
    monthly = SettlementLine.objects.get(line_key="txn_4")

    page = page_client(books.finance).get(f"/settlements/lines/{charge.pk}/").content.decode()

    fed = rows(section(page, "journal-lines"), "journal-lines-fed")
    assert {r[0] for r in fed} == {entry.number}
    assert sorted((r[3], r[5], r[6]) for r in fed) == [
        ("1100 Channel clearing", "credit", "224.60 USD"),
        ("6100 Payment processing fees", "debit", "6.81 USD"),
    ]

    entry_page = page_client(books.finance).get(f"/journals/{entry.pk}/").content.decode()
    fees = entry.lines.get(account__code="6100")
    assert source_rows(section(entry_page, f"sources-{fees.pk}")) == {
        f"settlement_line:{charge.pk}": (
            ["settlement line", "stripe txn_1", "6.81 USD"],
            f"/settlements/lines/{charge.pk}/",
        ),
        f"settlement_line:{monthly.pk}": (
            ["settlement line", "stripe txn_4", "2.00 USD"],
            f"/settlements/lines/{monthly.pk}/",
        ),
    }
    cash = entry.lines.get(account__code="1150")
    assert source_rows(section(entry_page, f"sources-{cash.pk}")) == {
        f"settlement_batch:{charge.batch_id}": (
            ["payout", "stripe po_1", "77.45 USD"],
            f"/settlements/{charge.batch_id}/",
        )
    }
