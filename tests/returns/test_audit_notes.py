"""What a return's transitions say in their audit records (issue 9)."""

from __future__ import annotations

import pytest

from retailsync.core.models import AuditRecord
from tests.returns.conftest import shipped_order

pytestmark = pytest.mark.django_db


def test_a_refund_approval_names_the_return_and_the_amount(shop):
    order_id = shipped_order(shop)
    rid = shop.ops.post(
        "/api/v1/returns/",
        {"order": order_id, "lines": [{"sku": "SCARF", "quantity": 1, "reason": "too_small"}]},
        format="json",
    ).json()["id"]
    # Each transition takes its own body now: authorize none, receive a location.
    shop.ops.post(f"/api/v1/returns/{rid}/authorize", {}, format="json")
    shop.ops.post(f"/api/v1/returns/{rid}/receive", {"location": "WH1"}, format="json")
    shop.ops.post(
        f"/api/v1/returns/{rid}/inspect",
        {"location": "WH1", "lines": [{"sku": "SCARF", "restock": 1}]},
        format="json",
    )

    response = shop.finance.post(f"/api/v1/returns/{rid}/refund", {}, format="json")

    assert response.json()["refund"]["amount"] == "19.17"
    record = AuditRecord.objects.get(actor_name="fred")
    assert (record.action, record.outcome) == (
        f"return-refund (pk={rid})",
        f"refund approved for RMA-{rid}: 19.17 USD (Original tender)",
    )
    assert AuditRecord.objects.get(action=f"return-authorize (pk={rid})").outcome == (
        f"authorize RMA-{rid}: now authorized"
    )
