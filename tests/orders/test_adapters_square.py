"""Square Orders API adapter, against the spec's RetrieveOrder example and POS orders rebuilt from
the spec's models. Every expected figure is worked out by hand in the comments."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orders.adapters import square
from orders.adapters.base import MalformedPayload

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "square"
D = Decimal


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(), parse_float=Decimal)


def test_spec_example_takes_the_fifty_percent_discount_off_each_line() -> None:
    order = square.parse(load("retrieve_order_spec_example.json"), {})

    assert order.external_id == "CAISENgvlJ6jLWAzERDzjyHVybY"
    assert order.currency == "USD"
    assert order.placed_at == datetime(2020, 5, 18, 16, 30, 49, 614000, tzinfo=UTC)
    assert order.fulfilment_location == "D7AVYMEAPJ3A3"
    assert order.channel_status == "OPEN" and not order.cancelled
    assert not order.prices_include_tax
    item1, item2 = order.lines
    # Item 1: base 500 cents x quantity "1"; its share of "50% Off" is 250 cents.
    assert (item1.unit_price, item1.quantity, item1.discount) == (D("5.00"), 1, D("2.50"))
    assert item1.discounts[0].title == "50% Off"
    # Item 2: base 300 cents x quantity "2" = 6.00; its share is 300 cents.
    assert (item2.unit_price, item2.quantity, item2.discount) == (D("3.00"), 2, D("3.00"))
    # No metadata.sku on these lines: the catalog variation id stands in for the SKU.
    assert (item1.sku, item2.sku) == ("catalog_object_id5", "catalog_object_id6")
    assert item1.metadata["catalog_object_id"] == "catalog_object_id5"
    # subtotal 5.00 + 6.00 = 11.00; discount 2.50 + 3.00 = 5.50; no tax, tip or charge:
    # total 11.00 - 5.50 = 5.50 = total_money 550.
    assert order.subtotal == D("11.00")
    assert order.discount == D("5.50")
    assert order.shipping == order.fees_total == order.tax == D("0")
    assert order.computed_total == order.channel_total == D("5.50")
    assert order.metadata["reference_id"] == "reference_id4"


def test_additive_tax_tip_and_split_tender() -> None:
    order = square.parse(load("order_additive_tax_tip_split_tender.json"), {})

    assert not order.prices_include_tax  # the only tax is ADDITIVE
    latte, croissant = order.lines
    # Latte: 450 cents x 2 = 9.00; "Happy Hour" 1.00 off; 8% of (9.00 - 1.00) = 0.64.
    assert (latte.unit_price, latte.quantity) == (D("4.50"), 2)
    assert [(d.amount, d.title) for d in latte.discounts] == [(D("1.00"), "Happy Hour")]
    assert [(t.amount, t.title, t.rate) for t in latte.tax_lines] == [
        (D("0.64"), "Sales Tax", D("0.08"))
    ]
    assert order.line_total(latte) == D("8.64")  # 9.00 - 1.00 + 0.64 = total_money 864
    # Croissant: 375 cents x 1 = 3.75; no discount; 8% of 3.75 = 0.30.
    assert (croissant.unit_price, croissant.quantity, croissant.discount) == (D("3.75"), 1, 0)
    assert croissant.tax == D("0.30")
    # subtotal 9.00 + 3.75 = 12.75; discount 1.00; tax 0.64 + 0.30 = 0.94; tip 2.00;
    # total 12.75 - 1.00 + 2.00 + 0.94 = 14.69 = total_money 1469.
    assert order.subtotal == D("12.75")
    assert order.discount == D("1.00")
    assert order.shipping == D("0")
    assert [(f.kind, f.amount) for f in order.fees] == [("tip", D("2.00"))]
    assert order.fees_total == D("2.00")
    assert order.tax == D("0.94")
    assert order.computed_total == order.channel_total == D("14.69")
    # The card tender carries the 2.00 tip inside its 10.00; cash pays the other 4.69.
    card, cash = order.payments
    assert (card.gateway, card.method, card.amount) == ("square", "CARD", D("10.00"))
    assert card.reference == "bP9mAsEMYPUGjjGNaNO5ZDVyLhSZY"
    assert card.metadata == {"tip": D("2.00")}
    assert (cash.gateway, cash.method, cash.amount) == ("cash", "CASH", D("4.69"))
    assert cash.reference == "Zrt4TmLBV1dUoGdHXaYHsWlc2QXZY"  # no payment_id: the tender id
    assert card.amount + cash.amount == order.channel_total
    assert order.fulfilment_location == "L88917AVBK2S5"
    assert order.source_updated_at == datetime(2024, 4, 2, 14, 12, 5, 112000, tzinfo=UTC)


def test_inclusive_vat_modifiers_and_service_charge() -> None:
    order = square.parse(load("order_inclusive_vat_service_charge.json"), {})

    assert order.prices_include_tax  # the only tax is INCLUSIVE
    assert order.currency == "GBP"
    flat_white, brownie = order.lines
    # Flat white: base 3.50 + oat milk modifier 0.50 = 4.00 a cup, x 2 = 8.00 (gross_sales 800);
    # VAT inside it: 8.00 / 6 = 1.333 -> 1.33 as Square applied it.
    assert (flat_white.unit_price, flat_white.quantity) == (D("4.00"), 2)
    assert [(t.amount, t.rate) for t in flat_white.tax_lines] == [(D("1.33"), D("0.2"))]
    # Brownie: 3.00, VAT inside it 3.00 / 6 = 0.50.
    assert (brownie.unit_price, brownie.tax) == (D("3.00"), D("0.50"))
    # subtotal 8.00 + 3.00 = 11.00; table service 10% of 11.00 = 1.10;
    # total 11.00 + 1.10 = 12.10 (tax 1.83 is inside it) = total_money 1210.
    assert order.subtotal == D("11.00")
    assert [(f.kind, f.title, f.amount) for f in order.fees] == [
        ("service_charge", "Table service", D("1.10"))
    ]
    assert order.tax == D("1.83")
    assert order.computed_total == order.channel_total == D("12.10")


def test_retrieve_order_wrapper_and_bare_order_read_the_same() -> None:
    wrapped = load("retrieve_order_spec_example.json")
    assert square.parse(wrapped["order"], {}) == square.parse(wrapped, {})


def test_cancelled_state() -> None:
    payload = load("retrieve_order_spec_example.json")
    payload["order"]["state"] = "CANCELED"
    assert square.parse(payload, {}).cancelled


def test_recipient_details_stay_out_of_metadata() -> None:
    order = square.parse(load("order_additive_tax_tip_split_tender.json"), {})

    dumped = json.dumps(order.metadata, default=str)
    assert order.metadata["fulfillments"][0]["type"] == "PICKUP"
    for personal in ("jaime.rivera@example.com", "Jaime Rivera", "555-4240", "recipient"):
        assert personal not in dumped


def test_negative_quantity_is_left_to_the_validator() -> None:
    payload = load("retrieve_order_spec_example.json")
    payload["order"]["line_items"][1]["quantity"] = "-2"
    assert square.parse(payload, {}).lines[1].quantity == -2


def test_every_unreadable_field_is_reported_at_once() -> None:
    payload = load("order_additive_tax_tip_split_tender.json")
    del payload["id"]
    del payload["location_id"]
    payload["created_at"] = "yesterday"
    payload["line_items"][0]["quantity"] = "two"
    payload["line_items"][1]["base_price_money"] = {"amount": "3.75", "currency": "USD"}
    payload["tenders"][1]["amount_money"] = {"amount": Decimal("4.69"), "currency": "USD"}

    with pytest.raises(MalformedPayload) as raised:
        square.parse(payload, {})

    assert {e.field for e in raised.value.errors} == {
        "id",
        "location_id",
        "created_at",
        "line_items[0].quantity",
        "line_items[1].base_price_money.amount",
        "tenders[1].amount_money.amount",
    }


def test_unknown_currency_is_reported_once() -> None:
    payload = load("retrieve_order_spec_example.json")
    payload["order"]["total_money"]["currency"] = "XXX"

    with pytest.raises(MalformedPayload) as raised:
        square.parse(payload, {})

    assert [e.field for e in raised.value.errors] == ["total_money.currency"]


def test_a_payload_that_is_not_an_object_is_malformed() -> None:
    with pytest.raises(MalformedPayload):
        square.parse(["not", "an", "order"], {})
