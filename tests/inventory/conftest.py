from __future__ import annotations

from typing import Any

import pytest

from inventory.models import Position
from inventory.services import item_upsert, location_upsert


@pytest.fixture(autouse=True)
def _loopback_receivers(settings: Any) -> None:
    """The webhook receivers these tests start listen on loopback: exempt it, as an operator
    exempts an internal receiver (tests/inventory/test_webhooks.py checks the rule itself)."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]


@pytest.fixture
def stock(db):  # type: ignore[no-untyped-def]
    """Two warehouses and a store, three items and a bundle of two of them."""
    for code, kind in (("WH1", "warehouse"), ("WH2", "warehouse"), ("STORE1", "store")):
        location_upsert(code=code, kind=kind)
    for sku in ("TEE", "MUG", "CAP"):
        item_upsert(sku=sku, description=sku.title())
    item_upsert(sku="GIFTSET", description="Tee and mug", components={"TEE": 1, "MUG": 1})


def position(sku: str, location: str) -> dict[str, int]:
    p = Position.objects.filter(item__sku=sku, location__code=location).first()
    if p is None:
        return {"on_hand": 0, "reserved": 0, "in_transit": 0, "damaged": 0, "quality_hold": 0}
    return {
        f: getattr(p, f) for f in ("on_hand", "reserved", "in_transit", "damaged", "quality_hold")
    }


_counter = iter(range(1, 10**9))


def event(
    type_: str, sku: str = "TEE", location: str = "WH1", quantity: int = 1, **extra: Any
) -> dict[str, Any]:
    return {
        "event_id": f"e{next(_counter)}",
        "source": "wms",
        "type": type_,
        "sku": sku,
        "location": location,
        "quantity": quantity,
        "occurred_at": extra.pop("occurred_at", "2026-11-20T10:00:00Z"),
        **extra,
    }
