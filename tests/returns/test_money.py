"""The money of returns, worked out by hand: partial and repeated returns of a multi-line order
with an order-level discount and two tax jurisdictions, restocking fees, shipping, exchanges,
and a refund the channel reports."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest
from django.db import connection

from orders.models import Order, OrderLine
from retailsync.core.errors import DomainError
from retailsync.core.models import DomainEvent, ExceptionItem, InboundMessage
from returns.models import Return, ReturnPolicy
from returns.services import LineInput, return_request
from tests.returns.conftest import shipped_order
from tests.returns.test_lifecycle import act, inspected, open_return

pytestmark = pytest.mark.django_db


def refund_through(shop, order_id, lines, **extra):
    return act(shop.finance, inspected(shop, order_id, lines, **extra), "refund")


def test_three_returns_give_back_exactly_what_the_order_cost_and_not_a_cent_more(shop):
    order_id = shipped_order(shop)

    first = refund_through(shop, order_id, [{"sku": "SCARF", "quantity": 1, "reason": "x"}])
    second = refund_through(shop, order_id, [{"sku": "SCARF", "quantity": 2, "reason": "x"}])
    last = refund_through(shop, order_id, [{"sku": "JACKET", "quantity": 2, "reason": "x"}])

    # Scarf 1 of 3: 53.00/3 = 17.67; state 3.18/3 = 1.06; county 1.33/3 = 0.44 → 19.17.
    assert (first["refund"]["amount"], first["refund"]["tax"]) == ("19.17", "1.50")
    # Scarves 2 and 3: the remainder, 53.00 − 17.67 = 35.33, 3.18 − 1.06 = 2.12,
    # 1.33 − 0.44 = 0.89 → 38.34.
    assert (second["refund"]["amount"], second["refund"]["tax"]) == ("38.34", "3.01")
    # Jackets: 144.00 + 8.64 + 3.60 = 156.24, and now the whole order is back, shipping too:
    # 10.00 + 0.60 + 0.25 = 10.85. 167.09.
    assert last["refund"]["shipping"] == "10.00"
    assert (last["refund"]["amount"], last["refund"]["tax"]) == ("167.09", "13.09")
    total = sum(Decimal(r["refund"]["amount"]) for r in (first, second, last))
    assert total == Order.objects.get(pk=order_id).total == Decimal("224.60")
    by_jurisdiction: dict[str, Decimal] = {}
    for r in last["refund"]["tax_reversals"]:
        by_jurisdiction[r["jurisdiction"]] = by_jurisdiction.get(r["jurisdiction"], 0) + Decimal(
            r["amount"]
        )
    # Jackets 8.64 + shipping 0.60; jackets 3.60 + shipping 0.25.
    assert by_jurisdiction == {"NY": Decimal("9.24"), "NY-Kings": Decimal("3.85")}


def test_a_restocking_fee_comes_off_the_goods_by_reason(shop):
    ReturnPolicy.objects.create(channel=shop.channel, restocking_fee_percent={"changed_mind": 15})
    order_id = shipped_order(shop)

    body = refund_through(
        shop, order_id, [{"sku": "SCARF", "quantity": 1, "reason": "changed_mind"}]
    )

    # 15% of 17.67 = 2.6505 → 2.65; 19.17 − 2.65 = 16.52
    assert body["refund"]["restocking_fee"] == "2.65"
    assert body["refund"]["amount"] == "16.52"
    assert body["lines"][0]["restocking_fee"] == "2.65"


def test_shipping_is_refunded_on_a_partial_return_when_the_policy_says_so(shop):
    ReturnPolicy.objects.create(channel=shop.channel, refund_shipping=True)
    body = refund_through(
        shop, shipped_order(shop), [{"sku": "SCARF", "quantity": 1, "reason": "x"}]
    )
    # 19.17 + 10.00 + 0.85 = 30.02
    assert body["refund"]["amount"] == "30.02"


def test_an_exchange_becomes_a_new_order_and_the_credit_pays_for_it(shop):
    order_id = shipped_order(shop)
    rid = open_return(
        shop,
        order_id,
        [{"sku": "JACKET", "quantity": 1, "reason": "too_small", "replacement_sku": "JACKET-L"}],
    )

    act(shop.ops, rid, "authorize")
    ret = Return.objects.get(pk=rid)
    exchange = ret.exchange_order
    assert exchange is not None
    assert exchange.channel == ret.channel
    assert [(line.sku, line.quantity, line.unit_price) for line in exchange.lines.all()] == [
        ("JACKET-L", 1, Decimal("80.0000"))
    ]
    assert exchange.total == Decimal("80.00")

    act(shop.ops, rid, "receive", {"location": "WH1"})
    act(shop.ops, rid, "inspect", {"location": "WH1", "lines": [{"sku": "JACKET", "restock": 1}]})
    body = act(shop.finance, rid, "refund")
    # The jacket returned was worth 144.00/2 = 72.00 + 6% 4.32 + 2.5% 1.80 = 78.12; the
    # replacement costs 80.00 at the same list price: nothing to refund, 1.88 still due.
    assert body["refund"]["amount"] == "0.00"
    assert body["exchange_order"] == exchange.pk
    refunded = DomainEvent.objects.get(name="return.refunded").payload
    assert (refunded["exchange_credit"], refunded["exchange_due"]) == ("80.00", "1.88")


SHOPIFY_REFUND = {
    "id": 890088186047892319,
    "order_id": "R-1",
    "note": "Things were damaged",
    "restock": False,
    "order_adjustments": [],
    "refund_line_items": [
        {
            "id": 487817672276298627,
            "line_item_id": "S",
            "quantity": 1,
            "restock_type": "no_restock",
            "subtotal": 17.67,
            "total_tax": 1.5,
        }
    ],
    "transactions": [
        {
            "id": 245135271310201194,
            "order_id": "R-1",
            "kind": "refund",
            "gateway": "stripe",
            "status": "success",
            "amount": "19.17",
            "currency": "USD",
        },
        {
            "id": 245135271310201195,
            "order_id": "R-1",
            "kind": "refund",
            "gateway": "stripe",
            "status": "failure",
            "amount": "19.17",
            "currency": "USD",
        },
    ],
}


def post_refund(shop, body):
    return shop.client.post(
        "/api/v1/channels/web/refunds",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {shop.token}",
    )


def test_a_refund_the_channel_reports_is_linked_to_its_open_return_once(shop):
    from retailsync.core.auth import tokens_forget
    from retailsync.core.models import Channel

    order_id = shipped_order(shop)
    Channel.objects.filter(pk=shop.channel.pk).update(source="shopify")
    tokens_forget()
    rid = open_return(
        shop,
        order_id,
        [
            {
                "line_id": OrderLine.objects.get(order_id=order_id, sku="SCARF").pk,
                "quantity": 1,
                "reason": "damaged",
            }
        ],
    )

    first = post_refund(shop, SHOPIFY_REFUND)
    again = post_refund(shop, SHOPIFY_REFUND)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] == rid
    body = first.json()
    assert body["status"] == "refunded"
    # Only the successful transaction counts: 19.17, as our own figures give too.
    assert body["refund"]["amount"] == "19.17"
    assert body["refund"]["payments"][0]["psp_refund_id"] == "245135271310201194"
    assert Return.objects.count() == 1
    assert not ExceptionItem.objects.filter(kind="refund_mismatch").exists()
    assert list(
        InboundMessage.objects.filter(kind="refund").values_list("status", flat=True).order_by("pk")
    ) == ["processed", "duplicate"]


def test_a_channel_refund_without_a_return_opens_one_and_a_wrong_amount_is_flagged(shop):
    from retailsync.core.auth import tokens_forget
    from retailsync.core.models import Channel

    shipped_order(shop)
    Channel.objects.filter(pk=shop.channel.pk).update(source="shopify")
    tokens_forget()
    odd = {
        **SHOPIFY_REFUND,
        "transactions": [{**SHOPIFY_REFUND["transactions"][0], "amount": "25.00"}],
    }

    response = post_refund(shop, odd)

    assert response.status_code == 201
    assert response.json()["refund"]["amount"] == "25.00"
    mismatch = ExceptionItem.objects.get(kind="refund_mismatch")
    assert mismatch.details["ours"] == "19.17"


def test_a_refund_for_an_unknown_order_is_kept_refused_and_queued(shop):
    from retailsync.core.auth import tokens_forget
    from retailsync.core.models import Channel

    Channel.objects.filter(pk=shop.channel.pk).update(source="shopify")
    tokens_forget()
    response = post_refund(shop, {**SHOPIFY_REFUND, "order_id": "NOPE"})

    assert response.status_code == 422
    assert InboundMessage.objects.get(kind="refund").status == "rejected"
    assert ExceptionItem.objects.get(kind="refund_rejected")


@pytest.mark.django_db(transaction=True)
def test_concurrent_returns_never_take_more_than_shipped(shop):
    order_id = shipped_order(shop)
    line = OrderLine.objects.get(order_id=order_id, sku="SCARF")
    results: list[str] = []
    barrier = threading.Barrier(8)

    def request() -> None:
        try:
            barrier.wait()
            return_request(order_id=order_id, lines=[LineInput(1, "x", line_id=line.pk)])
            results.append("ok")
        except DomainError:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert sorted(results) == ["ok"] * 3 + ["refused"] * 5
    line.refresh_from_db()
    assert line.quantity_returned == 3
