"""Items and locations: the staff API (201 new, 200 updated) and SKU-master uploads."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest
import tablib

from inventory.admin import ItemResource, LocationResource
from inventory.models import BundleComponent, Item, Location

pytestmark = pytest.mark.django_db


def test_items_and_locations_are_created_then_updated_through_the_api(staff):
    ops = staff("operations")

    created = ops.post(
        "/api/v1/inventory/items",
        {"sku": "TEE", "description": "Tee", "unit_cost": "4.10"},
        format="json",
    )
    updated = ops.post(
        "/api/v1/inventory/items",
        {"sku": "TEE", "description": "Organic tee", "unit_cost": "4.25"},
        format="json",
    )
    location = ops.post(
        "/api/v1/inventory/locations",
        {"code": "WH1", "kind": "warehouse", "name": "Newark"},
        format="json",
    )
    bad = ops.post("/api/v1/inventory/locations", {"code": "X", "kind": "moon"}, format="json")

    assert (created.status_code, updated.status_code, location.status_code) == (201, 200, 201)
    item = Item.objects.get()
    assert (item.description, item.unit_cost) == ("Organic tee", Decimal("4.2500"))
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "kind"


def test_a_bundle_names_its_components_and_unknown_ones_are_refused(staff):
    ops = staff("operations")
    ops.post("/api/v1/inventory/items", {"sku": "TEE"}, format="json")
    ops.post("/api/v1/inventory/items", {"sku": "MUG"}, format="json")

    ok = ops.post(
        "/api/v1/inventory/items", {"sku": "SET", "components": {"TEE": 1, "MUG": 2}}, format="json"
    )
    bad = ops.post(
        "/api/v1/inventory/items", {"sku": "SET2", "components": {"HAT": 1}}, format="json"
    )

    assert ok.json()["components"] == {"TEE": 1, "MUG": 2}
    assert BundleComponent.objects.count() == 2
    assert bad.status_code == 422
    assert bad.json()["errors"] == [{"field": "components.HAT", "message": "unknown SKU"}]
    assert not Item.objects.filter(sku="SET2").exists()


def test_the_sku_master_imports_from_csv_and_again_updates_not_duplicates():
    csv = (
        "sku,description,unit_cost,cost_currency,is_active\n"
        "TEE,Organic tee,4.10,USD,1\nMUG,Stoneware mug,2.35,USD,1\n"
    )

    first = ItemResource().import_data(tablib.Dataset().load(csv, format="csv"), dry_run=False)
    again = ItemResource().import_data(
        tablib.Dataset().load(csv.replace("2.35", "2.40"), format="csv"), dry_run=False
    )

    assert not first.has_errors() and not again.has_errors()
    assert first.totals["new"] == 2
    assert again.totals["update"] == 1
    assert Item.objects.get(sku="MUG").unit_cost == Decimal("2.4000")


def test_locations_import_from_xlsx():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["code", "kind", "name", "legal_entity", "is_active"])
    sheet.append(["WH1", "warehouse", "Newark DC", "", 1])
    sheet.append(["STORE-NYC", "store", "Soho", "", 1])
    data = io.BytesIO()
    book.save(data)

    result = LocationResource().import_data(
        tablib.Dataset().load(data.getvalue(), format="xlsx"), dry_run=False
    )

    assert not result.has_errors()
    assert sorted(Location.objects.values_list("code", "kind")) == [
        ("STORE-NYC", "store"),
        ("WH1", "warehouse"),
    ]


def test_the_admin_offers_the_import_page(client, django_user_model):
    from retailsync.core.services import user_create

    user, _ = user_create(username="root", role="admin", password="x")
    client.force_login(user)
    assert client.get("/admin/inventory/item/import/").status_code == 200
