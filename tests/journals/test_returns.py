"""Credit memos from closed returns of the two-jurisdiction order (tests/returns/conftest.py),
worked out by hand: scarves are 53.00 net for 3 (NY 3.18, NY-Kings 1.33 of tax), jackets 144.00
net for 2 (NY 8.64, NY-Kings 3.60); unit costs scarf 5.00, jacket 30.00."""

from __future__ import annotations

from decimal import Decimal

import pytest

from journals.models import JournalEntry, JournalLineSource
from returns.models import ReturnPolicy
from tests.journals.conftest import amounts, dispatch, sold, sources_add_up

pytestmark = pytest.mark.django_db
D = Decimal


def act(client, rid, action, body=None):  # type: ignore[no-untyped-def]
    response = client.post(f"/api/v1/returns/{rid}/{action}", body or {}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def returned(shop, order_id, sku, quantity, reason, inspect, method="original"):  # type: ignore[no-untyped-def]
    response = shop.ops.post(
        "/api/v1/returns/",
        {"order": order_id, "lines": [{"sku": sku, "quantity": quantity, "reason": reason}]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    rid = response.json()["id"]
    act(shop.ops, rid, "authorize")
    act(shop.ops, rid, "receive", {"location": "WH1"})
    act(shop.ops, rid, "inspect", {"location": "WH1", "lines": [{"sku": sku, **inspect}]})
    act(shop.finance, rid, "refund", {"method": method})
    return rid


def credit_memo(rid: int) -> JournalEntry:
    return JournalEntry.objects.get(
        pk__in=JournalLineSource.objects.filter(source_type="return", source_id=rid).values(
            "line__entry_id"
        )
    )


def test_a_partial_return_posts_its_credit_memo_with_tax_per_jurisdiction_and_the_fee_once_closed(
    books,
):
    ReturnPolicy.objects.create(channel=books.channel, restocking_fee_percent={"changed_mind": 10})
    order_id = sold(books)
    rid = returned(books, order_id, "SCARF", 2, "changed_mind", {"restock": 1, "damaged": 1})
    dispatch()
    assert not JournalLineSource.objects.filter(source_type="return").exists()  # refunded only

    act(books.finance, rid, "close")
    dispatch()

    # Two scarves: 53.00 × 2/3 = 35.33; NY 3.18 × 2/3 = 2.12, NY-Kings 1.33 × 2/3 = 0.89; the
    # fee 10% of 35.33 = 3.53; refunded 35.33 + 2.12 + 0.89 − 3.53 = 34.81 to the card.
    memo = credit_memo(rid)
    assert amounts(memo) == {
        ("4000", "Sales revenue"): (D("35.33"), D("0.00")),
        ("2200", "Tax payable NY"): (D("2.12"), D("0.00")),
        ("2200", "Tax payable NY-Kings"): (D("0.89"), D("0.00")),
        ("4060", "Restocking fees"): (D("0.00"), D("3.53")),
        ("1100", "Channel clearing (stripe)"): (D("0.00"), D("34.81")),
        ("1200", "Inventory"): (D("5.00"), D("0.00")),  # the restocked scarf, at cost
        ("5010", "Inventory write-downs"): (D("5.00"), D("0.00")),  # the damaged one
        ("5000", "Cost of goods sold"): (D("0.00"), D("10.00")),
    }
    assert (memo.channel.code, memo.payment_method, memo.status) == ("web", "stripe", "draft")
    sources_add_up(memo)


def test_a_store_credit_refund_is_a_liability_not_money_back(books):
    order_id = sold(books)
    rid = returned(books, order_id, "JACKET", 1, "too_big", {"restock": 1}, "store_credit")
    act(books.finance, rid, "close")
    dispatch()

    # One jacket of two: 72.00, NY 4.32, NY-Kings 1.80: 78.12 owed as store credit.
    assert amounts(credit_memo(rid)) == {
        ("4000", "Sales revenue"): (D("72.00"), D("0.00")),
        ("2200", "Tax payable NY"): (D("4.32"), D("0.00")),
        ("2200", "Tax payable NY-Kings"): (D("1.80"), D("0.00")),
        ("2300", "Store credit liability"): (D("0.00"), D("78.12")),
        ("1200", "Inventory"): (D("30.00"), D("0.00")),
        ("5000", "Cost of goods sold"): (D("0.00"), D("30.00")),
    }
