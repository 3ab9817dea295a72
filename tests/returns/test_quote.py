"""The refund quote finance sees before approving is what is then refunded, to the cent, and an
approval of figures that have since changed is refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from returns.models import Return, ReturnPolicy
from tests.returns.conftest import shipped_order
from tests.returns.test_lifecycle import act, inspected, open_return

pytestmark = pytest.mark.django_db


def quote_of(client, rid):
    response = client.get(f"/api/v1/returns/{rid}/refund")
    assert response.status_code == 200, response.json()
    return response.json()


def test_the_quote_shows_each_lines_price_discount_tax_and_fee_worked_out_by_hand(shop):
    ReturnPolicy.objects.create(channel=shop.channel, restocking_fee_percent={"changed_mind": 15})
    rid = inspected(
        shop, shipped_order(shop), [{"sku": "SCARF", "quantity": 1, "reason": "changed_mind"}]
    )

    quote = quote_of(shop.finance, rid)

    # One scarf of three: price 20.00; the line paid 53.00, a third is 17.67, so the discount
    # share is 2.33; state 3.18 / 3 = 1.06, county 1.33 / 3 = 0.443 → 0.44; the fee is 15% of
    # 17.67 = 2.65. 17.67 + 1.50 − 2.65 = 16.52, no shipping on a partial return.
    [line] = quote["lines"]
    assert {k: line[k] for k in ("sku", "quantity", "price", "discount", "amount", "tax")} == {
        "sku": "SCARF",
        "quantity": 1,
        "price": "20.00",
        "discount": "2.33",
        "amount": "17.67",
        "tax": "1.50",
    }
    assert (line["restocking_fee"], line["total"]) == ("2.65", "16.52")
    assert line["tax_reversals"] == [
        {"jurisdiction": "NY", "amount": "1.06"},
        {"jurisdiction": "NY-Kings", "amount": "0.44"},
    ]
    assert (quote["shipping"], quote["amount"], quote["currency"]) == ("0.00", "16.52", "USD")
    assert quote["refusal"] == ""


@pytest.mark.parametrize(
    ("policy", "lines", "extra"),
    [
        ({}, [{"sku": "SCARF", "quantity": 2, "reason": "too_small"}], {}),
        (
            {"restocking_fee_percent": {"changed_mind": 15}, "refund_shipping": True},
            [
                {"sku": "SCARF", "quantity": 1, "reason": "changed_mind"},
                {"sku": "JACKET", "quantity": 1, "reason": "too_small"},
            ],
            {},
        ),
        (
            {},
            [
                {"sku": "SCARF", "quantity": 3, "reason": "too_small"},
                {"sku": "JACKET", "quantity": 2, "reason": "too_small"},
            ],
            {"refund_method": "store_credit"},
        ),
        (
            {},
            [
                {
                    "sku": "JACKET",
                    "quantity": 1,
                    "reason": "too_small",
                    "replacement_sku": "JACKET-L",
                }
            ],
            {},
        ),
    ],
    ids=["partial", "fee-and-shipping", "whole-order", "exchange"],
)
def test_the_quote_is_what_is_then_refunded_to_the_cent(shop, policy, lines, extra):
    if policy:
        ReturnPolicy.objects.create(channel=shop.channel, **policy)
    rid = inspected(shop, shipped_order(shop), lines, **extra)

    quote = quote_of(shop.finance, rid)
    refunded = act(shop.finance, rid, "refund", {"expected_amount": quote["amount"]})

    money = refunded["refund"]
    assert (quote["amount"], quote["tax"], quote["shipping"], quote["restocking_fee"]) == (
        money["amount"],
        money["tax"],
        money["shipping"],
        money["restocking_fee"],
    )
    assert [(x["sku"], x["amount"], x["tax"], x["restocking_fee"]) for x in quote["lines"]] == [
        (x["sku"], x["amount"], x["tax"], x["restocking_fee"]) for x in refunded["lines"]
    ]
    assert quote["tax_reversals"] == [
        {"jurisdiction": j, "amount": str(sum(Decimal(r["amount"]) for r in rs))}
        for j, rs in _by_jurisdiction(money["tax_reversals"]).items()
    ]
    assert sum(Decimal(p["amount"]) for p in money["payments"]) == Decimal(quote["amount"])


def _by_jurisdiction(reversals):
    out: dict[str, list] = {}
    for r in reversals:
        out.setdefault(r["jurisdiction"], []).append(r)
    return out


def test_an_approval_of_a_quote_that_has_since_changed_is_refused(shop):
    order_id = shipped_order(shop)
    jackets = inspected(shop, order_id, [{"sku": "JACKET", "quantity": 2, "reason": "too_small"}])
    scarves = inspected(shop, order_id, [{"sku": "SCARF", "quantity": 3, "reason": "too_small"}])
    # Scarves alone: 53.00 + 3.18 + 1.33 = 57.51, shipping stays with the order.
    seen = quote_of(shop.finance, scarves)["amount"]
    assert seen == "57.51"

    act(shop.finance, jackets, "refund")  # now the scarves complete the order: shipping too
    refused = act(shop.finance, scarves, "refund", {"expected_amount": seen}, status=409)

    # 57.51 + shipping 10.00 + its tax 0.60 + 0.25 = 68.36
    assert refused["errors"] == [
        {
            "field": "expected_amount",
            "message": "the refund is now 68.36 USD, not the 57.51 USD shown: look at it again",
        }
    ]
    assert Return.objects.get(pk=scarves).status == "inspected"
    assert (
        act(shop.finance, scarves, "refund", {"expected_amount": "68.36"})["refund"]["amount"]
        == "68.36"
    )


def test_a_quote_says_why_the_return_cannot_be_refunded_yet(shop):
    rid = open_return(
        shop, shipped_order(shop), [{"sku": "SCARF", "quantity": 1, "reason": "too_small"}]
    )
    act(shop.ops, rid, "authorize")
    act(shop.ops, rid, "receive", {"location": "WH1"})

    quote = quote_of(shop.ops, rid)

    assert quote["amount"] == "19.17"
    assert quote["refusal"] == "a received return cannot be refunded: it must be inspected first"
