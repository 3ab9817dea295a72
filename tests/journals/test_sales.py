"""Sales at shipment, worked out by hand from the two-jurisdiction order of tests/returns:
2 jackets at 80.00 (discount 16.00) and 3 scarves at 20.00 (discount 7.00), shipping 10.00;
tax NY 8.64 + 3.18 + 0.60 = 12.42 and NY-Kings 3.60 + 1.33 + 0.25 = 5.18; paid 224.60 by
Stripe. Unit costs: jacket 30.00, scarf 5.00."""

from __future__ import annotations

from decimal import Decimal

import pytest

from journals.models import AccountingPeriod, JournalEntry, JournalLineSource, PostedSource
from journals.services.run import journals_run
from retailsync.core.models import ExceptionItem
from tests.journals.conftest import amounts, dispatch, place, ship, sold, sources_add_up
from tests.orders.payloads import canonical_order
from tests.returns.conftest import two_jurisdiction_order

pytestmark = pytest.mark.django_db
D = Decimal

WHOLE_ORDER = {
    ("1100", "Channel clearing (stripe)"): (D("224.60"), D("0.00")),
    ("4000", "Sales revenue"): (D("0.00"), D("220.00")),
    ("2200", "Tax payable NY"): (D("0.00"), D("12.42")),
    ("2200", "Tax payable NY-Kings"): (D("0.00"), D("5.18")),
    ("4050", "Discounts"): (D("23.00"), D("0.00")),
    ("5000", "Cost of goods sold"): (D("75.00"), D("0.00")),
    ("1200", "Inventory"): (D("0.00"), D("75.00")),
    ("4010", "Shipping revenue"): (D("0.00"), D("10.00")),
}


def test_a_shipped_order_makes_a_balanced_entry_with_every_account_to_the_cent(books):
    order_id = sold(books)
    dispatch()

    entry = JournalEntry.objects.get()
    assert (entry.legal_entity.code, entry.channel.code, entry.payment_method) == (
        "US01",
        "web",
        "stripe",
    )
    assert (str(entry.posting_date), entry.period.period, entry.currency, entry.status) == (
        "2026-11-11",
        "2026-11",
        "USD",
        "draft",
    )
    assert entry.number == f"JE-2026-11-{entry.pk:06d}"
    assert amounts(entry) == WHOLE_ORDER
    sources_add_up(entry)
    assert set(
        JournalLineSource.objects.filter(line__entry=entry).values_list("source_type", "source_id")
    ) == {("order", order_id)}


def test_shipments_of_one_order_add_up_to_the_order_in_the_day_s_one_entry(books):
    order_id = place(books, two_jurisdiction_order("R-1"))
    ship(
        books,
        order_id,
        [{"sku": "JACKET", "quantity": 1}, {"sku": "SCARF", "quantity": 2}],
        "2026-11-11T09:00:00Z",
    )
    ship(
        books,
        order_id,
        [{"sku": "JACKET", "quantity": 1}, {"sku": "SCARF", "quantity": 1}],
        "2026-11-11T15:00:00Z",
    )
    dispatch()

    entry = JournalEntry.objects.get()
    assert amounts(entry) == WHOLE_ORDER  # the same figures, cut in two
    revenue = entry.lines.get(description="Sales revenue")
    # First: 80.00 + 2 × 20.00; second: 80.00 + 20.00.
    assert sorted(s.amount for s in revenue.sources.all()) == [D("100.0000"), D("120.0000")]
    clearing = entry.lines.get(account__code="1100")
    # First: 120.00 − (8.00 + 4.67) + 10.00 + tax (4.32 + 1.80 + 2.12 + 0.89 + 0.60 + 0.25)
    # = 127.31; second: 100.00 − (8.00 + 2.33) + (4.32 + 1.80 + 1.06 + 0.44) = 97.29.
    assert sorted(s.amount for s in clearing.sources.all()) == [D("97.29"), D("127.31")]
    sources_add_up(entry)


def test_sales_in_two_currencies_make_one_entry_per_currency(books, make_channel):
    eu = make_channel(code="web-eu", currency="EUR")
    eu.ops = books.ops
    sold(books)
    # A jacket at 100.00 EUR with 19.00 tax and 5.00 shipping, paid 124.00 by PayPal.
    order_id = place(
        eu,
        canonical_order(
            external_id="EU-1",
            currency="EUR",
            lines=[
                {
                    "sku": "JACKET",
                    "quantity": 1,
                    "unit_price": "100.00",
                    "discount": "0",
                    "tax": "19.00",
                }
            ],
            shipping={"amount": "5.00", "discount": "0", "tax": "0"},
            payments=[{"gateway": "paypal", "reference": "PP-1", "amount": "124.00"}],
            total="124.00",
        ),
    )
    ship(eu, order_id, [{"sku": "JACKET", "quantity": 1}], "2026-11-11T12:00:00Z")
    dispatch()

    usd = JournalEntry.objects.get(currency="USD", channel__code="web")
    eur = JournalEntry.objects.get(currency="EUR")
    assert amounts(usd) == WHOLE_ORDER
    assert amounts(eur) == {
        ("1100", "Channel clearing (paypal)"): (D("124.00"), D("0.00")),
        ("2200", "Tax payable Tax"): (D("0.00"), D("19.00")),  # no jurisdiction: its title
        ("4000", "Sales revenue"): (D("0.00"), D("100.00")),
        ("4010", "Shipping revenue"): (D("0.00"), D("5.00")),
    }
    # The jacket's cost is in dollars: its COGS is in the dollar entry of the EUR channel.
    cost = JournalEntry.objects.get(currency="USD", channel__code="web-eu")
    assert amounts(cost) == {
        ("5000", "Cost of goods sold"): (D("30.00"), D("0.00")),
        ("1200", "Inventory"): (D("0.00"), D("30.00")),
    }


def test_an_amount_no_rule_maps_is_an_exception_and_waits_unposted_until_one_does(books):
    from journals.models import MappingRule

    rule = MappingRule.objects.get(kind="tax_payable")
    account = rule.account
    rule.delete()
    sold(books)
    dispatch()

    assert not JournalEntry.objects.exists()
    assert not PostedSource.objects.exists()
    problems = ExceptionItem.objects.filter(kind="unmapped_account", status="open")
    assert sorted(p.details["jurisdiction"] for p in problems) == ["NY", "NY-Kings"]
    problem = problems.get(details__jurisdiction="NY")
    assert problem.reason == (
        "Journals: no account is mapped for tax_payable (legal entity US01, channel web, "
        "payment method (none), jurisdiction NY); order.shipped "
        f"{problem.details['source'].split()[-1]} waits unposted until a mapping rule covers it."
    )

    MappingRule.objects.create(
        legal_entity=account.legal_entity, kind="tax_payable", account=account
    )
    assert journals_run(period="2026-11", now=problem.created_at) == 1
    assert amounts(JournalEntry.objects.get()) == WHOLE_ORDER
    assert not ExceptionItem.objects.filter(kind="unmapped_account", status="open").exists()


def test_each_shipment_is_posted_once_however_often_its_event_comes(books):
    sold(books)
    dispatch()
    assert journals_run(period="2026-11", now=JournalEntry.objects.get().created_at) == 0

    from journals.posting.sales import sales_postings
    from journals.services.apply import postings_apply
    from orders.events import OrderShipped
    from retailsync.core.contracts import Typed, event_payload
    from retailsync.core.models import DomainEvent

    event = DomainEvent.objects.get(name="order.shipped")
    again = postings_apply(
        sales_postings([Typed(event_payload(event, OrderShipped), event)] * 2),
        now=event.created_at,
    )
    assert (again.posted, again.skipped) == (0, 1)
    assert PostedSource.objects.count() == 1
    assert amounts(JournalEntry.objects.get()) == WHOLE_ORDER


def test_a_shipment_dated_in_a_closed_period_lands_in_the_next_open_one_with_a_note(books):
    from journals.services.periods import period_set_status

    for month in ("2026-11", "2026-12"):
        period_set_status(
            legal_entity="US01",
            period=month,
            status="closed",
            user=None,
            now=books.channel.created_at,
        )
    sold(books, when="2026-11-28T10:00:00Z")
    dispatch()

    entry = JournalEntry.objects.get()
    assert (entry.period.period, str(entry.posting_date)) == ("2027-01", "2027-01-01")
    assert "Dated 2026-11-28, in 2026-11, which is closed: posted in 2027-01 instead." in entry.note
    assert AccountingPeriod.objects.get(period="2027-01").status == "open"
    assert amounts(entry) == WHOLE_ORDER


def test_a_wholesale_channel_posts_one_entry_per_order_from_the_same_amounts(books):
    from journals.models import PostingPolicy

    PostingPolicy.objects.create(
        legal_entity=books.channel.legal_entity, channel=books.channel, per_order=True
    )
    first = sold(books, "W-1")
    second = sold(books, "W-2")
    dispatch()

    entries = list(JournalEntry.objects.order_by("order_id"))
    assert [e.order_id for e in entries] == [first, second]
    assert [amounts(e) for e in entries] == [WHOLE_ORDER, WHOLE_ORDER]
