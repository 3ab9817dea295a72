"""The return list: found by the RMA number, the order's number or a returned SKU; exported."""

from __future__ import annotations

import re

import pytest

from tests.core.test_lists import rows_csv
from tests.returns.conftest import shipped_order
from tests.returns.test_lifecycle import open_return
from tests.settlements.pages import client_for

pytestmark = pytest.mark.django_db


def test_the_return_list_finds_a_return_by_its_rma_number_or_order(shop):
    first = open_return(
        shop, shipped_order(shop, "R-1"), [{"sku": "SCARF", "quantity": 1, "reason": "too_small"}]
    )
    second = open_return(
        shop, shipped_order(shop, "R-2"), [{"sku": "JACKET", "quantity": 1, "reason": "faulty"}]
    )
    finance = client_for("finance")

    def found(**query: str) -> set[str]:
        return set(
            re.findall(r'<tr data-return="(\d+)"', finance.get("/returns/", query).content.decode())
        )

    assert found(q=f"RMA-{second}") == {str(second)}
    assert found(q=f"rma{first}") == {str(first)}
    assert found(q="R-1") == {str(first)}
    assert found(q="JACKET") == {str(second)}
    assert found(status="refunded") == set()
    assert found() == {str(first), str(second)}  # open ones by default
    exported = rows_csv(finance.get("/returns/", {"q": f"RMA-{second}", "export": "csv"}))
    assert [(r["RMA"], r["Status"]) for r in exported] == [(f"RMA-{second}", "requested")]
