"""What stock events and allocation changes say in their audit records (issue 9)."""

from __future__ import annotations

import pytest

from retailsync.core.models import AuditRecord, ExceptionItem
from tests.inventory.conftest import event

pytestmark = pytest.mark.django_db


def test_stock_events_say_how_many_applied_and_how_many_were_duplicates(stock, staff):
    ops = staff("operations", username="olga")
    first = event("receipt", quantity=5)
    ops.post("/api/v1/inventory/events", first, format="json")

    ops.post(
        "/api/v1/inventory/events",
        [first, event("receipt", quantity=2), event("adjustment", quantity=-1)],
        format="json",
    )

    assert [r.outcome for r in AuditRecord.objects.order_by("pk")] == [
        "stock events applied: 1 applied, 0 duplicate",
        "stock events applied: 2 applied, 1 duplicate",
    ]


def test_a_refused_stock_event_is_recorded_as_refused_and_its_exception_is_kept(stock, staff):
    ops = staff("operations", username="olga")

    response = ops.post("/api/v1/inventory/events", event("shipment", quantity=5), format="json")

    assert response.status_code == 422
    record = AuditRecord.objects.get()
    assert (record.action, record.result) == ("stock-events", "refused")
    assert record.outcome == (
        "refused (422): quantity: shipment of 5 TEE at WH1: "
        "only 0 available to ship unreserved, not 5"
    )
    assert ExceptionItem.objects.get().kind == "stock_event_refused"


def test_an_allocation_says_what_it_set(stock, staff, channel):
    staff("operations").put(
        "/api/v1/channels/web/allocation",
        {"locations": ["WH2", "WH1"], "safety_stock": 3},
        format="json",
    )

    record = AuditRecord.objects.get()
    assert (record.action, record.outcome) == (
        "channel-allocation (code=web)",
        "allocation of web set: locations WH2, WH1, safety stock 3",
    )
