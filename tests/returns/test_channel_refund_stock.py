"""A Shopify `refunds/create` whose lines were restocked moves our stock: `return` brings the
units back at the Shopify location's mapped location, `cancel` releases what the unshipped line
held, `legacy_restock` does whichever the line's state says, and an unmapped location waits in
the exception queue, saying how to map it, until it is mapped in the admin."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from inventory.mappings import channel_location_map
from inventory.models import ChannelLocationMapping, Location, StockMovement
from inventory.services import (
    EventInput,
    allocation_set,
    item_upsert,
    location_upsert,
    stock_events_apply,
)
from orders.models import OrderLine
from retailsync.core.models import ExceptionItem
from retailsync.core.services import user_create
from returns.models import Return
from tests.conftest import fixture_bytes, fixture_json
from tests.inventory.conftest import position

pytestmark = pytest.mark.django_db

REFUND = fixture_json("shopify/refunds_create_restock.json")
SHOPIFY_STORE = "655441491"  # the refund's location_id: the Chicago store
MUG_LINE = "13186278293573714"


@pytest.fixture
def webshop(make_channel, staff, django_capture_on_commit_callbacks):
    """A Shopify channel reserving at WH1, which holds 5 tees and 3 mugs; a store, STORE1."""
    for code, kind in (("WH1", "warehouse"), ("STORE1", "store")):
        location_upsert(code=code, kind=kind)
    for sku in ("TSHIRT-BLK-M", "MUG-WHT"):
        item_upsert(sku=sku)
    stock_events_apply(
        events=[
            EventInput("seed-1", "wms", "receipt", "TSHIRT-BLK-M", "WH1", 5, timezone.now()),
            EventInput("seed-2", "wms", "receipt", "MUG-WHT", "WH1", 3, timezone.now()),
        ]
    )
    shop = make_channel("shopify", code="webshop")
    allocation_set(channel=shop.channel, locations=["WH1"])
    shop.ops = staff("operations")
    shop.capture = django_capture_on_commit_callbacks
    with shop.capture(execute=True):
        response = shop.post_order(fixture_bytes("shopify/orders_create_split_tender.json"))
    assert response.status_code == 201, response.json()
    shop.order_id = response.json()["id"]
    assert position("MUG-WHT", "WH1")["reserved"] == 1
    return shop


def ship_everything(shop) -> None:  # type: ignore[no-untyped-def]
    with shop.capture(execute=True):
        response = shop.ops.post(
            f"/api/v1/orders/{shop.order_id}/shipments",
            {
                "location": "WH1",
                "lines": [
                    {"sku": "TSHIRT-BLK-M", "quantity": 2},
                    {"sku": "MUG-WHT", "quantity": 1},
                ],
            },
            format="json",
        )
    assert response.status_code == 201, response.json()


def refund(shop, body: dict[str, Any]):  # type: ignore[no-untyped-def]
    with shop.capture(execute=True):
        return shop.post("/api/v1/channels/webshop/refunds", json.dumps(body).encode())


def restocked_as(restock_type: str, **line: Any) -> dict[str, Any]:
    body = copy.deepcopy(REFUND)
    body["refund_line_items"][0].update(restock_type=restock_type, **line)
    return body


def map_store(shop) -> None:  # type: ignore[no-untyped-def]
    channel_location_map(
        channel=shop.channel,
        external_id=SHOPIFY_STORE,
        location=Location.objects.get(code="STORE1"),
    )


def test_a_return_restocked_at_a_mapped_location_comes_back_there(webshop):
    ship_everything(webshop)
    map_store(webshop)

    response = refund(webshop, REFUND)
    again = refund(webshop, REFUND)

    assert (response.status_code, again.status_code) == (201, 200), response.json()
    body = response.json()
    assert body["status"] == "refunded"
    # 1 mug: 18.00 − 1.80 discount = 16.20, tax 1.01 + 0.28 = 1.29: 17.49, as Shopify says.
    assert body["refund"]["amount"] == "17.49"
    assert not ExceptionItem.objects.filter(kind="refund_mismatch").exists()
    assert position("MUG-WHT", "STORE1")["on_hand"] == 1  # once, though delivered twice
    assert position("MUG-WHT", "WH1") == {
        "on_hand": 2,
        "reserved": 0,
        "in_transit": 0,
        "damaged": 0,
        "quality_hold": 0,
    }
    receipt = StockMovement.objects.get(reason="return_receipt")
    assert (receipt.location.code, receipt.on_hand) == ("STORE1", 1)
    assert receipt.reference_id == f"RMA-{body['id']}"
    line = Return.objects.get().lines.get()
    assert (line.quantity, line.received, line.restocked) == (1, 1, 1)
    parcel = line.receipts.get()  # the return's own record of where the units came back
    assert (parcel.location.code, parcel.quantity, parcel.decided) == ("STORE1", 1, 1)
    assert not ExceptionItem.objects.filter(kind="unmapped_location").exists()


def test_an_unmapped_location_waits_in_the_queue_until_it_is_mapped_in_the_admin(
    webshop, make_channel
):
    ship_everything(webshop)
    # The same Shopify id on another channel's shop is another place.
    other = make_channel("shopify", code="outlet")
    ChannelLocationMapping.objects.create(
        channel=other.channel, external_id=SHOPIFY_STORE, location=Location.objects.get(code="WH1")
    )

    response = refund(webshop, REFUND)

    assert response.status_code == 201, response.json()
    assert response.json()["refund"]["amount"] == "17.49"  # the money is recorded all the same
    assert position("MUG-WHT", "STORE1")["on_hand"] == 0
    assert position("MUG-WHT", "WH1")["on_hand"] == 2
    waiting = ExceptionItem.objects.get(kind="unmapped_location")
    assert waiting.status == "open"
    assert waiting.reason == (
        f"Shopify location {SHOPIFY_STORE} of channel webshop is not mapped to one of our "
        f"locations, so 1 × MUG-WHT restocked by refund 890088186047892400 "
        f"(RMA-{response.json()['id']}) did not move stock yet. Map it in the admin: Inventory "
        f"› Channel location mappings › Add (channel webshop, external id {SHOPIFY_STORE}, and "
        "our location); the waiting units then go back to stock."
    )

    admin_user, _ = user_create(username="ada", role="admin", password="ada-pass-2026")
    browser = Client()
    browser.force_login(admin_user)
    with webshop.capture(execute=True):
        saved = browser.post(
            "/admin/inventory/channellocationmapping/add/",
            {
                "channel": webshop.channel.pk,
                "external_id": SHOPIFY_STORE,
                "location": Location.objects.get(code="STORE1").pk,
                "_save": "Save",
            },
        )

    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert position("MUG-WHT", "STORE1")["on_hand"] == 1
    waiting.refresh_from_db()
    assert waiting.status == "resolved"
    assert waiting.resolved_by == admin_user
    assert waiting.resolution == "Mapped to STORE1: 1 × MUG-WHT went back to stock there."


def test_a_cancel_restock_releases_what_the_unshipped_line_held(webshop):
    response = refund(webshop, restocked_as("cancel"))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["lines"]) == ("refunded", [])
    assert body["refund"]["amount"] == "17.49"
    assert not ExceptionItem.objects.filter(kind="refund_mismatch").exists()
    mug = OrderLine.objects.get(order_id=webshop.order_id, external_id=MUG_LINE)
    assert (mug.quantity_cancelled, mug.quantity_open) == (1, 0)
    assert position("MUG-WHT", "WH1") == {
        "on_hand": 3,
        "reserved": 0,  # released: the mug never left the shelf
        "in_transit": 0,
        "damaged": 0,
        "quality_hold": 0,
    }
    assert position("TSHIRT-BLK-M", "WH1")["reserved"] == 2  # the rest of the order holds
    assert not StockMovement.objects.filter(reason="return_receipt").exists()


@pytest.mark.parametrize("shipped", [True, False], ids=["shipped", "not shipped"])
def test_a_legacy_restock_returns_what_shipped_and_cancels_what_did_not(webshop, shipped):
    if shipped:
        ship_everything(webshop)
    map_store(webshop)

    response = refund(webshop, restocked_as("legacy_restock"))

    assert response.status_code == 201, response.json()
    mug = OrderLine.objects.get(order_id=webshop.order_id, external_id=MUG_LINE)
    if shipped:
        assert position("MUG-WHT", "STORE1")["on_hand"] == 1
        assert mug.quantity_cancelled == 0
    else:
        assert position("MUG-WHT", "STORE1")["on_hand"] == 0
        assert position("MUG-WHT", "WH1")["reserved"] == 0
        assert mug.quantity_cancelled == 1


def test_a_refund_without_restock_moves_no_stock(webshop):
    ship_everything(webshop)
    map_store(webshop)

    response = refund(webshop, {**restocked_as("no_restock"), "restock": False})

    assert response.status_code == 201, response.json()
    assert position("MUG-WHT", "STORE1")["on_hand"] == 0
    assert Return.objects.get().lines.get().received == 0


def test_an_unknown_restock_type_is_refused_naming_it(webshop):
    response = refund(webshop, restocked_as("restock_later"))

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "field": "refund_line_items[0].restock_type",
            "message": "must be one of no_restock, return, cancel, legacy_restock",
        }
    ]
