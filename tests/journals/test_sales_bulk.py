"""The set-based sales path (`journals.services.sales_bulk`) against the per-event one
(`postings_apply(sales_postings(…))`): the same shipments, on top of the same drafts, make the
same entries, lines and source links, field by field.

The shipments cover what the rule does: a partial shipment after an earlier one of the same
order, and two of one order in the same chunk (units cut cumulatively); taxes in two
jurisdictions and order-level tax on shipping; prices that include tax; odd unit prices that
round; a shipping discount and an order fee; a store-credit tender, an order with no payment, a
gift card line; another currency whose costs are in dollars, posted one entry per order by
month; a clearing rule of its own (with dimensions) for one payment method. Two shipments are
left to the per-event path: an order paid by two tenders (split by `allocate`) and a SKU
without a unit cost (a note on the entry)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from journals.models import (
    Account,
    JournalEntry,
    JournalLine,
    MappingRule,
    PostedSource,
    PostingPolicy,
)
from journals.posting.sales import sales_postings
from journals.services.apply import postings_apply
from journals.services.sales_bulk import _bulk, shipments_post
from orders.events import OrderShipped
from orders.models import OrderFee, OrderLine
from retailsync.core.contracts import Typed, event_payload
from retailsync.core.models import DomainEvent
from tests.journals.conftest import place, ship
from tests.returns.conftest import two_jurisdiction_order

pytestmark = pytest.mark.django_db
D = Decimal
DAY = "2026-11-11T10:00:00Z"


def _order(external_id: str, **changes: Any) -> dict[str, Any]:
    order = copy.deepcopy(two_jurisdiction_order(external_id))
    order.update(changes)
    return order


def _one_line(external_id: str, sku: str, price: str, quantity: int, **more: Any) -> dict[str, Any]:
    shipping = more.get("shipping", {})
    total = D(price) * quantity + D(shipping.get("amount", 0)) - D(shipping.get("discount", 0))
    return {
        "external_id": external_id,
        "currency": more.pop("currency", "USD"),
        "placed_at": "2026-11-10T10:00:00Z",
        "lines": [{"id": "L", "sku": sku, "quantity": quantity, "unit_price": price}],
        "payments": more.pop(
            "payments",
            [{"gateway": "Stripe ", "reference": f"ch_{external_id}", "amount": f"{total}"}],
        ),
        "total": f"{total}",
        **more,
    }


def _shipped(ids: list[int]) -> list[DomainEvent]:
    return list(
        DomainEvent.objects.filter(name="order.shipped", pk__gt=max([0, *ids])).order_by("pk")
    )


def _per_event(events: list[DomainEvent], now: Any) -> None:
    postings_apply(
        sales_postings([Typed(event_payload(e, OrderShipped), e) for e in events]), now=now
    )


def _snapshot() -> dict[str, Any]:
    entries = {
        e.group_key: (
            e.legal_entity_id,
            e.channel_id,
            e.payment_method,
            e.order_id,
            e.posting_date,
            e.currency,
            e.period.period,
            e.status,
            e.note,
            e.updated_at,
        )
        for e in JournalEntry.objects.select_related("period")
    }
    lines = sorted(
        (
            x.entry.group_key,
            x.account.code,
            x.debit,
            x.credit,
            json.dumps(x.dimensions, sort_keys=True),
            x.description,
            x.fx_rate,
            x.fx_rate_source,
            tuple(sorted((s.source_type, s.source_id, s.amount) for s in x.sources.all())),
        )
        for x in JournalLine.objects.select_related("entry", "account").prefetch_related("sources")
    )
    posted = sorted(PostedSource.objects.values_list("event_name", "source_id", "event_id"))
    return {"entries": entries, "lines": lines, "posted": posted}


@pytest.fixture
def shipments(books, make_channel):  # type: ignore[no-untyped-def]
    """Orders placed and shipped; the first shipments posted (per event), the rest waiting:
    (the waiting order.shipped events, the events the per-event path must take)."""
    entity = books.channel.legal_entity
    eu = make_channel(code="eu", currency="EUR", legal_entity=entity)
    eu.ops = books.ops
    PostingPolicy.objects.create(
        legal_entity=entity, channel=eu.channel, per_order=True, by_day=False
    )
    special = Account.objects.create(legal_entity=entity, code="1101", name="Stripe", type="asset")
    MappingRule.objects.create(
        legal_entity=entity,
        payment_method="stripe",
        kind="clearing",
        account=special,
        dimensions={"cost_centre": "CC1"},
    )
    split = place(books, _order("R-1"))
    ship(books, split, [{"sku": "JACKET", "quantity": 1}, {"sku": "SCARF", "quantity": 1}], DAY)
    earlier = list(DomainEvent.objects.filter(name="order.shipped"))
    _per_event(earlier, earlier[0].created_at)
    mark = earlier[-1].pk

    ship(books, split, [{"sku": "SCARF", "quantity": 1}], DAY)
    ship(
        books,
        split,
        [{"sku": "JACKET", "quantity": 1}, {"sku": "SCARF", "quantity": 1}],
        "2026-11-12T10:00:00Z",
    )
    inclusive = place(
        books,
        _order(
            "R-2",
            prices_include_tax=True,
            total="207.00",
            payments=[{"gateway": "stripe", "reference": "ch_R2", "amount": "207.00"}],
        ),
    )
    ship(books, inclusive, [{"sku": "SCARF", "quantity": 2}], DAY)
    odd = place(
        books, _one_line("R-3", "SCARF", "9.99", 3, shipping={"amount": "4.99", "discount": "1.50"})
    )
    OrderFee.objects.create(order_id=odd, kind="handling", amount=D("2.00"), tax=D("0.16"))
    ship(books, odd, [{"sku": "SCARF", "quantity": 1}], DAY)
    credit = place(
        books,
        _one_line(
            "R-4",
            "JACKET",
            "50.00",
            1,
            payments=[
                {"gateway": "store", "kind": "store_credit", "reference": "sc-4", "amount": "50.00"}
            ],
        ),
    )
    ship(books, credit, [{"sku": "JACKET", "quantity": 1}], DAY)
    unpaid = place(books, _one_line("R-5", "JACKET-L", "61.00", 1, payments=[]))
    ship(books, unpaid, [{"sku": "JACKET-L", "quantity": 1}], DAY)
    gift = place(books, _one_line("R-6", "GIFT-25", "25.00", 2))
    OrderLine.objects.filter(order_id=gift).update(is_gift_card=True)
    ship(books, gift, [{"sku": "GIFT-25", "quantity": 2}], DAY)
    euro = place(
        eu,
        _one_line(
            "E-1",
            "JACKET",
            "70.00",
            2,
            currency="EUR",
            payments=[{"gateway": "adyen", "reference": "psp-1", "amount": "140.00"}],
        ),
    )
    ship(eu, euro, [{"sku": "JACKET", "quantity": 1}], DAY)
    ship(eu, euro, [{"sku": "JACKET", "quantity": 1}], "2026-11-20T10:00:00Z")
    two = place(
        books,
        _one_line(
            "R-7",
            "SCARF",
            "20.00",
            1,
            payments=[
                {"gateway": "stripe", "reference": "ch_7", "amount": "15.00"},
                {"gateway": "paypal", "reference": "pp_7", "amount": "5.00"},
            ],
        ),
    )
    ship(books, two, [{"sku": "SCARF", "quantity": 1}], DAY)
    nocost = place(books, _one_line("R-8", "MUG", "12.00", 1))
    ship(books, nocost, [{"sku": "MUG", "quantity": 1}], DAY)
    waiting = _shipped([mark])
    per_event = [e for e in waiting if e.payload["order_id"] in (two, nocost)]
    return waiting, per_event


def test_the_set_based_path_posts_what_the_per_event_path_posts_field_by_field(shipments):
    waiting, per_event = shipments
    now = waiting[-1].created_at
    pairs = [(e.pk, e.payload["shipment_id"]) for e in waiting]

    point = transaction.savepoint()
    result, left = _bulk(pairs, now)
    assert sorted(left) == sorted(e.pk for e in per_event)
    assert result.posted == len(waiting) - len(per_event) == 9
    transaction.savepoint_rollback(point)

    point = transaction.savepoint()
    applied = shipments_post(pairs, now=now)
    assert (applied.posted, applied.skipped) == (len(waiting), 0)
    bulk = _snapshot()
    transaction.savepoint_rollback(point)

    _per_event(waiting, now)
    one_by_one = _snapshot()

    assert bulk["entries"] == one_by_one["entries"]
    assert bulk["posted"] == one_by_one["posted"]
    assert bulk["lines"] == one_by_one["lines"]
    assert len(bulk["entries"]) >= 5
    assert len(bulk["lines"]) >= 25
    assert "No unit cost for MUG: its COGS is 0." in "".join(e[8] for e in bulk["entries"].values())


def test_the_set_based_path_posts_each_shipment_once(shipments):
    waiting, _ = shipments
    now = waiting[-1].created_at
    pairs = [(e.pk, e.payload["shipment_id"]) for e in waiting]
    shipments_post(pairs, now=now)
    before = _snapshot()

    again = shipments_post(pairs + pairs[:2], now=now)

    assert (again.posted, again.skipped) == (0, len(waiting))
    assert _snapshot() == before
