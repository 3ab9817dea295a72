"""The return lifecycle through the API: every step, every refused step, stock and money."""

from __future__ import annotations

import pytest
from django.utils import timezone

from inventory.models import Position
from retailsync.core.models import DomainEvent
from returns.models import ReturnPolicy, ReturnTransition
from tests.returns.conftest import shipped_order

pytestmark = pytest.mark.django_db


def open_return(shop, order_id, lines, **extra):
    response = shop.ops.post(
        "/api/v1/returns/", {"order": order_id, "lines": lines, **extra}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def inspected(shop, order_id, lines, **extra):
    """A return of `lines` authorized, received at WH1 and every unit restocked."""
    rid = open_return(shop, order_id, lines, **extra)
    act(shop.ops, rid, "authorize")
    act(shop.ops, rid, "receive", {"location": "WH1"})
    decisions = [
        {"sku": x["sku"], "quantity": x["quantity"], "disposition": "restock"} for x in lines
    ]
    act(shop.ops, rid, "inspect", {"lines": decisions})
    return rid


def act(client, return_id, action, body=None, status=200):
    response = client.post(f"/api/v1/returns/{return_id}/{action}", body or {}, format="json")
    assert response.status_code == status, response.json()
    return response.json()


# Each transition's own body (API.md); the others take none.
BODIES = {"receive": {"location": "WH1"}, "reject": {"note": "worn"}, "cancel": {"note": "kept"}}


def stock(sku, location):
    p = Position.objects.get(item__sku=sku, location__code=location)
    return p.on_hand, p.damaged, p.quality_hold


def test_a_return_runs_from_request_to_close_with_parcels_inspection_and_refund(shop):
    order_id = shipped_order(shop)
    rid = open_return(
        shop,
        order_id,
        [{"sku": "SCARF", "quantity": 2, "reason": "too_small", "comment": "runs small"}],
    )

    act(shop.ops, rid, "authorize")
    act(shop.ops, rid, "receive", {"location": "WH1", "lines": [{"sku": "SCARF", "quantity": 1}]})
    assert stock("SCARF", "WH1") == (1, 0, 1)  # on hand, held for inspection
    body = act(shop.ops, rid, "receive", {"location": "WH1"})  # the second parcel: the rest
    assert body["status"] == "received"
    assert body["lines"][0]["received"] == 2
    act(
        shop.ops,
        rid,
        "inspect",
        {"location": "WH1", "lines": [{"sku": "SCARF", "restock": 1, "damaged": 1}]},
    )
    assert stock("SCARF", "WH1") == (2, 1, 0)

    refunded = act(shop.finance, rid, "refund", {"psp_refund_id": "re_123"})
    # Scarves: 53.00 net for 3; two units are 35.33 (53 × 2/3 = 35.333…). State 3.18 × 2/3 =
    # 2.12, county 1.33 × 2/3 = 0.8866… → 0.89. Refund 35.33 + 2.12 + 0.89 = 38.34.
    assert refunded["refund"]["amount"] == "38.34"
    assert refunded["refund"]["tax"] == "3.01"
    assert refunded["refund"]["shipping"] == "0.00"
    assert refunded["refund"]["payments"] == [
        {
            "method": "original",
            "gateway": "stripe",
            "amount": "38.34",
            "psp_refund_id": "re_123",
            "status": "done",
        }
    ]
    assert {r["jurisdiction"]: r["amount"] for r in refunded["refund"]["tax_reversals"]} == {
        "NY": "2.12",
        "NY-Kings": "0.89",
    }
    closed = act(shop.finance, rid, "close")

    assert closed["status"] == "closed"
    assert [(t["from"], t["to"], t["by"]) for t in closed["timeline"]] == [
        ("", "requested", "olga"),
        ("requested", "authorized", "olga"),
        ("authorized", "received", "olga"),
        ("received", "received", "olga"),
        ("received", "inspected", "olga"),
        ("inspected", "refunded", "fred"),
        ("refunded", "closed", "fred"),
    ]
    names = list(
        DomainEvent.objects.filter(aggregate_type="return")
        .order_by("pk")
        .values_list("name", flat=True)
    )
    assert names == ["return.received", "return.received", "return.refunded", "return.closed"]
    refunded_event = DomainEvent.objects.get(name="return.refunded").payload
    assert refunded_event["amount"] == "38.34"
    assert refunded_event["liability"] is False


@pytest.mark.parametrize(
    ("setup", "action", "expected"),
    [
        ([], "refund", "a requested return cannot be refunded"),
        ([], "receive", "a requested return cannot be received"),
        ([], "close", "a requested return cannot be closed"),
        (["authorize"], "authorize", "a authorized return cannot be authorized"),
        (
            ["authorize", "receive"],
            "refund",
            "a received return cannot be refunded: it must be inspected first",
        ),
        (
            ["authorize", "receive"],
            "cancel",
            "goods of this return have arrived; it cannot be cancelled",
        ),
        (["authorize", "receive"], "reject", "a received return cannot be rejected"),
        (["reject"], "authorize", "a rejected return cannot be authorized"),
    ],
)
def test_a_transition_that_is_not_allowed_is_a_409_and_changes_nothing(
    shop, setup, action, expected
):
    rid = open_return(
        shop, shipped_order(shop), [{"sku": "SCARF", "quantity": 1, "reason": "too_small"}]
    )
    for step in setup:
        act(shop.ops if step != "refund" else shop.finance, rid, step, BODIES.get(step))
    before = ReturnTransition.objects.count()

    client = shop.finance if action in ("refund", "close") else shop.ops
    body = act(client, rid, action, BODIES.get(action), status=409)

    assert body["errors"][0]["message"] == expected
    assert ReturnTransition.objects.count() == before


def test_more_than_shipped_cannot_be_returned_over_several_returns(shop):
    order_id = shipped_order(shop)
    open_return(shop, order_id, [{"sku": "SCARF", "quantity": 2, "reason": "too_small"}])

    response = shop.ops.post(
        "/api/v1/returns/",
        {"order": order_id, "lines": [{"sku": "SCARF", "quantity": 2, "reason": "too_small"}]},
        format="json",
    )

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "lines[0].quantity",
            "message": "2 of SCARF to return but only 1 shipped and not returned yet",
        }
    ]


def test_a_rejected_return_gives_its_quantity_back(shop):
    order_id = shipped_order(shop)
    rid = open_return(shop, order_id, [{"sku": "SCARF", "quantity": 3, "reason": "too_small"}])
    act(shop.ops, rid, "reject", {"note": "worn"})
    open_return(shop, order_id, [{"sku": "SCARF", "quantity": 3, "reason": "too_small"}])


def test_the_return_window_closes_30_days_after_shipment(shop):
    order_id = shipped_order(shop, when=(timezone.now() - timezone.timedelta(days=31)).isoformat())
    response = shop.ops.post(
        "/api/v1/returns/",
        {"order": order_id, "lines": [{"sku": "JACKET", "quantity": 1, "reason": "too_small"}]},
        format="json",
    )
    assert response.status_code == 422
    assert "30-day return window has closed" in response.json()["errors"][0]["message"]


def test_buy_online_return_in_store_puts_the_goods_in_the_stores_stock(shop):
    rid = open_return(
        shop, shipped_order(shop), [{"sku": "JACKET", "quantity": 1, "reason": "too_small"}]
    )
    act(shop.ops, rid, "authorize")
    act(shop.ops, rid, "receive", {"location": "STORE1"})
    act(
        shop.ops, rid, "inspect", {"location": "STORE1", "lines": [{"sku": "JACKET", "restock": 1}]}
    )

    assert stock("JACKET", "STORE1") == (1, 0, 0)
    assert Position.objects.get(item__sku="JACKET", location__code="STORE1").available == 1


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        ("restock", (1, 0, 0)),
        ("damaged", (1, 1, 0)),
        ("quality_hold", (1, 0, 1)),
        ("scrap", (0, 0, 0)),
        ("missing", (0, 0, 0)),
    ],
)
def test_each_disposition_moves_stock_its_own_way(shop, disposition, expected):
    rid = open_return(
        shop, shipped_order(shop), [{"sku": "JACKET", "quantity": 1, "reason": "faulty"}]
    )
    act(shop.ops, rid, "authorize")
    act(shop.ops, rid, "receive", {"location": "STORE1"})

    act(
        shop.ops,
        rid,
        "inspect",
        {"location": "STORE1", "lines": [{"sku": "JACKET", disposition: 1}]},
    )

    assert stock("JACKET", "STORE1") == expected


def test_reasons_without_inspection_go_back_to_stock_and_refund_on_receipt(shop):
    ReturnPolicy.objects.create(channel=shop.channel, no_inspection_reasons=["changed_mind"])
    rid = open_return(
        shop, shipped_order(shop), [{"sku": "SCARF", "quantity": 1, "reason": "changed_mind"}]
    )
    act(shop.ops, rid, "authorize")
    act(shop.ops, rid, "receive", {"location": "WH1"})

    assert stock("SCARF", "WH1") == (1, 0, 0)
    # 53.00 / 3 = 17.67; state 3.18 / 3 = 1.06; county 1.33 / 3 = 0.443… → 0.44: 19.17
    assert act(shop.finance, rid, "refund")["refund"]["amount"] == "19.17"


def test_a_trusted_reason_is_refunded_on_authorization_provisionally_until_receipt(shop):
    ReturnPolicy.objects.create(
        channel=shop.channel, refund_on_authorization_reasons=["not_delivered"]
    )
    rid = open_return(
        shop, shipped_order(shop), [{"sku": "SCARF", "quantity": 1, "reason": "not_delivered"}]
    )

    body = act(shop.ops, rid, "authorize")

    assert (body["status"], body["refund"]["provisional"]) == ("refunded", True)
    assert body["refund"]["payments"][0]["status"] == "provisional"
    act(shop.finance, rid, "close", status=409)
    act(shop.ops, rid, "receive", {"location": "WH1"})
    assert act(shop.finance, rid, "close")["refund"]["payments"][0]["status"] == "done"


def test_store_credit_is_a_liability_not_a_card_refund(shop):
    rid = open_return(
        shop,
        shipped_order(shop),
        [{"sku": "SCARF", "quantity": 1, "reason": "too_small"}],
        refund_method="store_credit",
    )
    for step in ("authorize", "receive"):
        act(shop.ops, rid, step, BODIES.get(step))
    act(shop.ops, rid, "inspect", {"location": "WH1", "lines": [{"sku": "SCARF", "restock": 1}]})
    body = act(shop.finance, rid, "refund")

    assert body["refund"]["payments"][0]["method"] == "store_credit"
    assert DomainEvent.objects.get(name="return.refunded").payload["liability"] is True


def test_only_finance_refunds_and_only_operations_receive(shop):
    rid = open_return(
        shop, shipped_order(shop), [{"sku": "SCARF", "quantity": 1, "reason": "too_small"}]
    )
    act(shop.ops, rid, "authorize")
    assert (
        shop.finance.post(
            f"/api/v1/returns/{rid}/receive", {"location": "WH1"}, format="json"
        ).status_code
        == 403
    )
    assert shop.ops.post(f"/api/v1/returns/{rid}/refund", {}, format="json").status_code == 403
