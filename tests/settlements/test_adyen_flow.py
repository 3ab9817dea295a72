"""Adyen: a charge and its refund matched to what the order and its refund led us to expect,
and a BNPL remittance that is late only once its payout lag has passed.

Batch 88: order 2001 (224.60, psp 8815000000002001) settled 224.60 less 3.60 commission =
221.00; the channel's refund RF-7 of 19.17 (one scarf, tests/returns) paid back; the payout
221.00 − 19.17 = 201.83. Batch 89: order 2002, 100.00 by Klarna placed 2026-11-01 (Klarna pays
30 days later: due 2026-12-01), remitted 2026-12-10 less 3.99 (3.5 % + 0.49).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from inventory.services import item_upsert, location_upsert
from retailsync.core.models import ExceptionItem
from settlements.matching.deposits import settlements_age
from settlements.models import ExpectedSettlement, FeeSchedule, SettlementBatch, SettlementLine
from tests.orders.payloads import canonical_order
from tests.returns.conftest import two_jurisdiction_order

from .conftest import upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(make_channel: Any, staff: Any, django_capture_on_commit_callbacks: Any) -> Any:
    location_upsert(code="WH1", kind="warehouse")
    for sku in ("JACKET", "SCARF"):
        item_upsert(sku=sku)
    web = make_channel(code="web")
    ops = staff("operations", username="olga")
    order = two_jurisdiction_order("A-2001")
    order["order_number"] = "2001"
    order["payments"] = [
        {"gateway": "adyen", "reference": "8815000000002001", "amount": "224.60", "method": "visa"}
    ]
    klarna = canonical_order(
        external_id="A-2002",
        order_number="2002",
        placed_at="2026-11-01T10:00:00Z",
        lines=[{"id": "L1", "sku": "SCARF", "quantity": 5, "unit_price": "20.00", "tax": "0"}],
        shipping={"amount": "0", "discount": "0", "tax": "0"},
        payments=[
            {
                "gateway": "adyen",
                "reference": "8815000000002002",
                "amount": "100.00",
                "method": "klarna",
            }
        ],
        total="100.00",
    )
    FeeSchedule.objects.create(
        provider="adyen",
        payment_method="klarna",
        percent=Decimal("3.5"),
        fixed=Decimal("0.49"),
        payout_lag_days=30,
    )
    with django_capture_on_commit_callbacks(execute=True):
        for body in (order, klarna):
            assert web.post_order(body).status_code == 201
        order_id = web.channel.orders.get(external_id="A-2001").pk
        shipped = ops.post(
            f"/api/v1/orders/{order_id}/shipments",
            {
                "location": "WH1",
                "shipped_at": "2026-11-11T10:00:00Z",
                "lines": [{"sku": "JACKET", "quantity": 2}, {"sku": "SCARF", "quantity": 3}],
            },
            format="json",
        )
        assert shipped.status_code == 201
        refund = {
            "id": "RF-7",
            "order_id": "A-2001",
            "amount": "19.17",
            "lines": [{"line_id": "S", "quantity": 1}],
        }
        answer = web.post("/api/v1/channels/web/refunds", json.dumps(refund).encode())
        assert answer.status_code in (200, 201), answer.json()
    return web


def test_a_charge_and_its_refund_match_what_was_expected(shop: Any) -> None:
    expected = sorted(
        (e.kind, e.gross, e.provider)
        for e in ExpectedSettlement.objects.filter(order__external_id="A-2001")
    )
    assert expected == [
        ("charge", Decimal("224.60"), "adyen"),
        ("refund", Decimal("-19.17"), "adyen"),
    ]
    done = upload("flows/adyen_batch_88.csv", "adyen")
    assert done.status == "done", done.errors
    batch = SettlementBatch.objects.get(provider="adyen")
    assert (batch.gross, batch.refunds, batch.fees, batch.net, batch.payout_amount) == (
        Decimal("224.60"),
        Decimal("-19.17"),
        Decimal("-3.60"),
        Decimal("201.83"),
        Decimal("201.83"),
    )
    assert batch.variance == 0
    outcomes = {ln.kind: (ln.outcome, ln.reason, ln.rule) for ln in SettlementLine.objects.all()}
    assert outcomes == {
        "charge": ("matched", "", "payment_ref"),
        "refund": ("matched", "", "payment_ref"),
        "payout": ("matched", "", "payout"),
    }
    assert set(
        ExpectedSettlement.objects.filter(order__external_id="A-2001").values_list(
            "status", flat=True
        )
    ) == {"settled"}


def test_a_bnpl_remittance_is_late_only_after_its_lag(shop: Any) -> None:
    klarna = ExpectedSettlement.objects.get(order__external_id="A-2002")
    assert (klarna.gross, klarna.fee, str(klarna.expected_on)) == (
        Decimal("100.00"),
        Decimal("-3.99"),
        "2026-12-01",
    )
    overdue = ExceptionItem.objects.filter(kind="settlement_overdue", object_label="2002")
    settlements_age(now=datetime(2026, 12, 5, tzinfo=UTC))
    assert not overdue.exists()  # within the lag and the 7-day window
    settlements_age(now=datetime(2026, 12, 9, tzinfo=UTC))
    late = overdue.get(status="open")
    assert late.object_label == "2002" and "100.00 USD" in late.reason
    done = upload("flows/adyen_batch_89_klarna.csv", "adyen")
    assert done.status == "done", done.errors
    charge = SettlementLine.objects.get(kind="charge", order_ref="2002")
    assert (charge.outcome, charge.reason, charge.net) == ("matched", "", Decimal("96.01"))
    late.refresh_from_db()
    assert late.status == "resolved"
