from __future__ import annotations

from typing import Any

import pytest

from inventory.services import item_upsert, location_upsert


@pytest.fixture
def shop(make_channel, staff, db):  # type: ignore[no-untyped-def]
    """A web channel, an operations and a finance client, WH1 and a store, the catalogue."""
    for code, kind in (("WH1", "warehouse"), ("STORE1", "store")):
        location_upsert(code=code, kind=kind)
    for sku in ("JACKET", "SCARF", "JACKET-L"):
        item_upsert(sku=sku)
    web = make_channel(code="web")
    web.ops = staff("operations", username="olga")
    web.finance = staff("finance", username="fred")
    return web


# 2 jackets at 80.00 and 3 scarves at 20.00: subtotal 220.00. An order-level code took 23.00,
# allocated 16.00 to the jackets and 7.00 to the scarves: nets 144.00 and 53.00.
# Two jurisdictions: state 6% (8.64, 3.18, shipping 0.60) and county 2.5% (3.60, 1.33 rounded
# from 1.325, shipping 0.25). Tax 17.60. Shipping 10.00.
# Total 220.00 − 23.00 + 10.00 + 17.60 = 224.60.
def two_jurisdiction_order(external_id: str = "R-1") -> dict[str, Any]:
    def taxes(state: str, county: str) -> list[dict[str, str]]:
        return [
            {"title": "State tax", "jurisdiction": "NY", "rate": "0.06", "amount": state},
            {"title": "County tax", "jurisdiction": "NY-Kings", "rate": "0.025", "amount": county},
        ]

    return {
        "external_id": external_id,
        "currency": "USD",
        "placed_at": "2026-11-10T10:00:00Z",
        "lines": [
            {
                "id": "J",
                "sku": "JACKET",
                "quantity": 2,
                "unit_price": "80.00",
                "discount": "16.00",
                "tax_lines": taxes("8.64", "3.60"),
            },
            {
                "id": "S",
                "sku": "SCARF",
                "quantity": 3,
                "unit_price": "20.00",
                "discount": "7.00",
                "tax_lines": taxes("3.18", "1.33"),
            },
        ],
        "shipping": {"amount": "10.00", "discount": "0", "tax_lines": taxes("0.60", "0.25")},
        "payments": [{"gateway": "stripe", "reference": "ch_R1", "amount": "224.60"}],
        "total": "224.60",
    }


def shipped_order(shop: Any, external_id: str = "R-1", when: str = "2026-11-11T10:00:00Z"):
    response = shop.post_order(two_jurisdiction_order(external_id))
    assert response.status_code == 201, response.json()
    order_id = response.json()["id"]
    shipped = shop.ops.post(
        f"/api/v1/orders/{order_id}/shipments",
        {
            "location": "WH1",
            "shipped_at": when,
            "lines": [{"sku": "JACKET", "quantity": 2}, {"sku": "SCARF", "quantity": 3}],
        },
        format="json",
    )
    assert shipped.status_code == 201
    return order_id
