"""Returns received before receipts were kept get them from their timeline (0002)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from returns.models import ReturnReceipt
from tests.returns.test_lifecycle import act
from tests.returns.test_transitions import received_scarves

pytestmark = pytest.mark.django_db
migration = importlib.import_module("returns.migrations.0002_receipts_and_desks")


def test_receipts_are_rebuilt_from_the_timeline_with_what_was_inspected_first(shop):
    rid = received_scarves(shop, quantity=2, where=("WH1", "STORE1"))
    act(
        shop.ops,
        rid,
        "inspect",
        {"location": "WH1", "lines": [{"sku": "SCARF", "quantity": 1, "disposition": "restock"}]},
    )
    before = list(
        ReturnReceipt.objects.order_by("pk").values_list("location__code", "quantity", "decided")
    )
    ReturnReceipt.objects.all().delete()

    migration.receipts_from_timeline(apps, None)

    after = list(
        ReturnReceipt.objects.order_by("pk").values_list("location__code", "quantity", "decided")
    )
    assert before == after == [("WH1", 1, 1), ("STORE1", 1, 0)]
