"""Typed event payloads (retailsync.core.contracts): the outbox JSON decodes into the publishing
app's dataclass with real types (Decimal amounts with their currency, datetimes, ids), encodes
back to the same keys, and the order.accepted the one-statement path builds in SQL decodes into
what the general (ORM) path publishes, field by field."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from orders.events import LineQuantity, OrderAccepted, OrderCancelled, OrderShipped
from orders.services import receive as services
from retailsync.core.contracts import (
    ContractError,
    contract_event,
    event_payload,
    payload_decode,
    payload_encode,
)
from retailsync.core.models import DomainEvent
from returns.events import RefundedLine, ReturnClosed, ReturnRefunded, TaxReversal
from tests.conftest import fixture_bytes
from tests.orders.test_sources_api import ACCEPTED

pytestmark = pytest.mark.django_db


def _accepted(order_id: int) -> tuple[DomainEvent, OrderAccepted]:
    event = DomainEvent.objects.get(name="order.accepted", aggregate_id=str(order_id))
    return event, event_payload(event, OrderAccepted)


@pytest.mark.parametrize(("source", "fixture"), [(s, f) for s, f, _, _ in ACCEPTED])
def test_the_sql_built_acceptance_decodes_to_what_the_orm_path_publishes(
    make_channel, monkeypatch, source, fixture
):
    body = fixture_bytes(fixture)
    fast = make_channel(source, code=f"{source}-fast").post_order(body)
    monkeypatch.setattr(services, "_order_receive_new", lambda **_: None)  # the general path
    general = make_channel(source, code=f"{source}-orm").post_order(body)
    assert fast.status_code == general.status_code == 201

    fast_event, sql_built = _accepted(fast.json()["id"])
    general_event, orm_built = _accepted(general.json()["id"])

    assert sql_built.order_id == fast.json()["id"]
    assert sql_built.channel == f"{source}-fast"
    assert isinstance(sql_built.total, Decimal) and isinstance(sql_built.placed_at, datetime)
    assert all(isinstance(line.line_id, int) for line in sql_built.lines)
    for field in dataclasses.fields(OrderAccepted):
        if field.name in ("order_id", "channel", "lines"):
            continue
        assert getattr(sql_built, field.name) == getattr(orm_built, field.name), field.name
    assert [(x.sku, x.quantity) for x in sql_built.lines] == [
        (x.sku, x.quantity) for x in orm_built.lines
    ]
    # The wire format is the one the outbox held before: the same keys, each way.
    for event, decoded in ((fast_event, sql_built), (general_event, orm_built)):
        assert set(payload_encode(decoded)) == set(event.payload)
        assert payload_decode(OrderAccepted, payload_encode(decoded)) == decoded

    # And the same JSON, value for value, but for the ids each path drew and the channel.
    def drawn_apart(payload: dict[str, Any]) -> dict[str, Any]:
        lines = [{k: v for k, v in line.items() if k != "line_id"} for line in payload["lines"]]
        rest = {k: v for k, v in payload.items() if k not in ("order_id", "channel", "lines")}
        return {**rest, "lines": lines}

    assert drawn_apart(fast_event.payload) == drawn_apart(general_event.payload)
    assert fast_event.lane == general_event.lane != ""


def test_amounts_are_decimals_to_the_cent_and_never_floats():
    payload = {
        "order_id": 7,
        "channel": "web",
        "external_id": "A-7",
        "currency": "EUR",
        "total": "19.90",
        "fulfilment_location": "",
        "channel_status": "paid",
        "placed_at": "2026-11-20T10:00:00Z",
        "lines": [{"line_id": 1, "sku": "TEE", "quantity": 2}],
    }
    accepted = payload_decode(OrderAccepted, payload)
    assert accepted.total == Decimal("19.90") and str(accepted.total) == "19.90"
    assert accepted.lines == (LineQuantity(1, "TEE", 2),)
    assert payload_encode(accepted)["total"] == "19.90"

    with pytest.raises(ContractError, match=r"OrderAccepted\.total: an amount"):
        payload_decode(OrderAccepted, {**payload, "total": 19.9})
    with pytest.raises(ContractError, match=r"OrderAccepted\.lines\[0\]\.quantity: missing"):
        payload_decode(OrderAccepted, {**payload, "lines": [{"line_id": 1, "sku": "T"}]})
    with pytest.raises(ContractError, match=r"OrderAccepted\.order_id: int expected"):
        payload_decode(OrderAccepted, {**payload, "order_id": "7"})


def test_a_payload_from_its_dataclass_is_the_event_to_record_and_decodes_back():
    refunded = ReturnRefunded(
        return_id=3,
        order_id=9,
        channel="web",
        currency="GBP",
        amount=Decimal("25.50"),
        goods=Decimal("24.00"),
        tax=Decimal("4.00"),
        shipping=Decimal("0"),
        restocking_fee=Decimal("2.50"),
        exchange_credit=Decimal("0"),
        exchange_due=Decimal("0"),
        method="original",
        provisional=False,
        liability=False,
        tax_reversals=(TaxReversal(5, "GB", Decimal("4.00")),),
        lines=(RefundedLine(11, 2, Decimal("24.00"), Decimal("4.00"), Decimal("2.50")),),
    )
    new = contract_event(refunded, aggregate_type="return", aggregate_id=3)
    assert (new.name, new.aggregate_type, new.aggregate_id) == ("return.refunded", "return", 3)
    assert new.payload["amount"] == "25.50"
    assert new.payload["lines"][0]["restocking_fee"] == "2.50"
    assert payload_decode(ReturnRefunded, new.payload) == refunded


def test_an_event_is_decoded_only_as_its_own_contract():
    event = DomainEvent(name="order.shipped", payload={})
    with pytest.raises(ContractError):
        event_payload(event, OrderCancelled)
    with pytest.raises(ContractError, match=r"OrderShipped\.order_id: missing"):
        event_payload(event, OrderShipped)
    with pytest.raises(TypeError):
        contract_event(LineQuantity(1, "X", 1), aggregate_type="order", aggregate_id=1)
    assert ReturnClosed.EVENT == "return.closed"  # type: ignore[attr-defined]
