"""Magento 2 REST sales order adapter, against Adobe's documented order and orders rebuilt in the
same format. Every expected figure is worked out by hand in the comments."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orders.adapters import magento
from orders.adapters.base import MalformedPayload

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "magento"
D = Decimal


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(), parse_float=Decimal)


def test_documented_order_counts_only_top_level_items() -> None:
    order = magento.parse(load("order_3_documented.json"), {})

    assert order.external_id == "3"
    assert order.order_number == "000000003"  # zero padding kept
    assert order.currency == "USD"
    assert order.placed_at == datetime(2017, 8, 21, 22, 22, 19, tzinfo=UTC)
    assert order.channel_status == "pending" and not order.cancelled
    # 9 items, of which the bundle's 4 children and the hoodie's 1 child are not lines.
    assert [(line.sku, line.unit_price, line.quantity) for line in order.lines] == [
        ("WS12-M-Orange", D(22), 1),
        ("240-LV08", D(18), 1),
        ("24-WG080-24-WG084-24-WG088-24-WG082-blue-24-WG086", D(68), 1),
        ("MH01-S-Gray", D(52), 1),
    ]
    bundle = order.lines[2]
    assert [c["sku"] for c in bundle.metadata["children"]] == [
        "24-WG082-blue",
        "24-WG084",
        "24-WG086",
        "24-WG088",
    ]
    # subtotal 22 + 18 + 68 + 52 = 160 (counting the children 27 + 5 + 17 + 19 would give 228);
    # shipping 5; no discount, no tax: total 165 = grand_total.
    assert order.subtotal == D(160)
    assert order.discount == order.tax == D(0)
    assert order.shipping == D(5)
    assert order.shipping_lines[0].title == "Best Way - Table Rate"
    assert order.shipping_lines[0].code == "tablerate_bestway"
    assert order.computed_total == order.channel_total == D(165)
    # Not yet paid: amount_ordered.
    [payment] = order.payments
    assert (payment.gateway, payment.amount, payment.captured_amount) == (
        "banktransfer",
        D(165),
        None,
    )
    assert order.customer_email == "j***@example.com"


def test_bundle_discount_and_shipping_tax() -> None:
    order = magento.parse(load("order_42_bundle_discount_shipping_tax.json"), {})

    assert not order.prices_include_tax  # no discount tax compensation anywhere
    tee, bundle, hoodie = order.lines
    # Tee: 20.00 x qty_ordered 2.0000; SPRING10 takes 10% of 40.00 = 4.00;
    # 8.25% of (40.00 - 4.00) = 2.97.
    assert (tee.unit_price, tee.quantity, tee.discount) == (D(20), 2, D("4.00"))
    assert [(t.amount, t.rate) for t in tee.tax_lines] == [(D("2.97"), D("0.0825"))]
    assert [(d.code, d.title) for d in tee.discounts] == [("SPRING10", "SPRING10")]
    # Bundle: 68.00 x 1, discount 6.80, tax 5.04 (the sum of its children's 2.00 + 0.37 + 1.26
    # + 1.41), taken once: the children's copies of these figures are not added again.
    assert (bundle.unit_price, bundle.quantity, bundle.discount, bundle.tax) == (
        D(68),
        1,
        D("6.80"),
        D("5.04"),
    )
    assert len(bundle.metadata["children"]) == 4
    assert "parent_item" not in bundle.metadata["children"][0]
    # Hoodie: 52.00 x 1, discount 5.20, 8.25% of 46.80 = 3.861 -> 3.86.
    assert (hoodie.unit_price, hoodie.discount, hoodie.tax) == (D(52), D("5.20"), D("3.86"))
    # Shipping 12.00, 10% off = 1.20, 8.25% of 10.80 = 0.891 -> 0.89.
    [shipping] = order.shipping_lines
    assert (shipping.amount, shipping.discount, shipping.tax) == (D(12), D("1.20"), D("0.89"))
    # subtotal 40 + 68 + 52 = 160.00
    # discount 4.00 + 6.80 + 5.20 + 1.20 = 17.20 (= -discount_amount)
    # tax 2.97 + 5.04 + 3.86 + 0.89 = 12.76
    # total 160.00 - 17.20 + 12.00 + 12.76 = 167.56 = grand_total
    assert order.subtotal == D("160.00")
    assert order.discount == D("17.20")
    assert order.shipping == D("12.00")
    assert order.fees_total == D(0)
    assert order.tax == D("12.76")
    assert order.computed_total == order.channel_total == D("167.56")
    [payment] = order.payments
    assert (payment.gateway, payment.reference, payment.amount, payment.method) == (
        "braintree",
        "kx3m9q2r",
        D("167.56"),
        "VI",
    )
    assert payment.captured_amount == D("167.56")
    assert order.metadata["state"] == "processing"
    assert order.metadata["base_grand_total"] == D("167.56")


def test_dynamic_bundle_takes_its_childrens_discount_and_tax() -> None:
    payload = load("order_42_bundle_discount_shipping_tax.json")
    parent = payload["items"][1]
    parent["discount_amount"] = parent["tax_amount"] = 0  # booked on the children only

    bundle = magento.parse(payload, {}).lines[1]

    # discount 2.70 + 0.50 + 1.70 + 1.90 = 6.80; tax 2.00 + 0.37 + 1.26 + 1.41 = 5.04
    assert (bundle.discount, bundle.tax) == (D("6.80"), D("5.04"))


def test_order_discount_not_on_items_is_shared_over_lines_by_price() -> None:
    payload = load("order_42_bundle_discount_shipping_tax.json")
    payload["discount_amount"] = D("-20.00")  # 2.80 more than items (16.00) + shipping (1.20)
    payload["grand_total"] = D("164.76")  # 167.56 - 2.80

    order = magento.parse(payload, {})

    # 2.80 by gross 40 : 68 : 52 (of 160): 0.70, 1.19, 0.91, adding up to 2.80.
    extra = [line.discounts[-1].amount for line in order.lines]
    assert extra == [D("0.70"), D("1.19"), D("0.91")]
    assert [line.discount for line in order.lines] == [D("4.70"), D("7.99"), D("6.11")]
    assert order.discount == D("20.00")
    assert order.computed_total == order.channel_total == D("164.76")


def test_discount_taken_off_tax_inclusive_prices() -> None:
    order = magento.parse(load("order_77_discount_on_tax_inclusive_prices.json"), {})

    # discount_tax_compensation_amount 0.40 != 0: the discount came off prices with VAT.
    assert order.prices_include_tax
    [mug] = order.lines
    # 12.00 with VAT x 2 = 24.00; 10% off = 2.40; VAT after discount 20/120 x 21.60 = 3.60.
    assert (mug.unit_price, mug.quantity, mug.discount, mug.tax) == (
        D(12),
        2,
        D("2.40"),
        D("3.60"),
    )
    assert order.shipping_lines[0].amount == D(6)  # shipping_incl_tax: 5.00 + 1.00 VAT
    # total 24.00 - 2.40 + 6.00 = 27.60 = grand_total, VAT 3.60 + 1.00 = 4.60 inside it.
    # (Ex-tax prices would give 20.00 - 2.40 + 5.00 + 4.60 = 27.20: the 0.40 is missing.)
    assert order.subtotal == D(24)
    assert order.tax == D("4.60")
    assert order.computed_total == order.channel_total == D("27.60")
    assert order.customer_email == "l***@example.de"


def test_cancelled_state() -> None:
    payload = load("order_3_documented.json")
    payload["state"] = payload["status"] = "canceled"
    assert magento.parse(payload, {}).cancelled


def test_personal_data_stays_out_of_metadata() -> None:
    order = magento.parse(load("order_42_bundle_discount_shipping_tax.json"), {})

    dumped = json.dumps(order.metadata, default=str)
    assert (
        order.metadata["extension_attributes"]["shipping_assignments"][0]["shipping"]["method"]
        == "flatrate_flatrate"
    )
    for personal in (
        "ana.ferreira@example.org",
        "Ferreira",
        "Harbor Street",
        "207-555-0163",
        "1990-04-01",
        "203.0.113.7",
        "1111",
    ):
        assert personal not in dumped
    assert order.customer_email == "a***@example.org"
    assert order.customer_ref and "ana" not in order.customer_ref


def test_every_unreadable_field_is_reported_at_once() -> None:
    payload = load("order_42_bundle_discount_shipping_tax.json")
    del payload["entity_id"]
    payload["created_at"] = "15/04/2024"
    payload["grand_total"] = "lots"
    payload["items"][0]["qty_ordered"] = D("1.5")
    del payload["items"][6]["price"]
    payload["payment"]["method"] = None
    payload["items"][7]["parent_item_id"] = 99  # the hoodie's child, now pointing nowhere

    with pytest.raises(MalformedPayload) as raised:
        magento.parse(payload, {})

    assert {e.field for e in raised.value.errors} == {
        "entity_id",
        "created_at",
        "grand_total",
        "items[0].qty_ordered",
        "items[6].price",
        "payment.method",
        "items[7].parent_item_id",
    }


def test_business_rules_are_left_to_the_validator() -> None:
    payload = load("order_3_documented.json")
    payload["items"][0]["qty_ordered"] = -1
    payload["items"][0]["sku"] = ""

    line = magento.parse(payload, {}).lines[0]

    assert (line.quantity, line.sku) == (-1, "")
