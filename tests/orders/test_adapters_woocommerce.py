"""WooCommerce order webhook adapter, against the REST docs' order 727 and an order rebuilt in the
same format. Every expected figure is worked out by hand in the comments."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orders.adapters import woocommerce
from orders.adapters.base import MalformedPayload

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "woocommerce"
D = Decimal


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(), parse_float=Decimal)


def test_documented_order_727_adds_up_to_29_35() -> None:
    order = woocommerce.parse(load("order_727_documented.json"), {})

    assert order.external_id == "727"
    assert order.order_number == "727"
    assert order.currency == "USD"
    # date_created_gmt, not the site-local date_created (16:28, three hours behind).
    assert order.placed_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert order.source_updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert order.channel_status == "processing" and not order.cancelled
    assert not order.prices_include_tax
    single, idea = order.lines
    # Woo Single #1: subtotal 6.00 / quantity 2 = 3.00; no SKU, and that is not an error here.
    assert (single.sku, single.unit_price, single.quantity, single.discount) == ("", D(3), 2, 0)
    assert [(t.amount, t.title, t.provider_reference) for t in single.tax_lines] == [
        (D("0.45"), "State Tax", "US-CA-STATE TAX")
    ]
    # Ship Your Idea: 12.00 / 1; its rate 75 tax "0.9" = 0.90.
    assert (idea.sku, idea.unit_price, idea.quantity, idea.tax) == ("Bar3", D(12), 1, D("0.90"))
    assert idea.metadata["variation_id"] == 23
    # subtotal 6.00 + 12.00 = 18.00; shipping 10.00; tax 0.45 + 0.90 = 1.35;
    # total 18.00 + 10.00 + 1.35 = 29.35.
    assert order.subtotal == D("18.00")
    assert order.discount == D(0)
    assert order.shipping == D("10.00")
    assert order.shipping_lines[0].code == "flat_rate"
    assert order.fees_total == D(0)
    assert order.tax == D("1.35")
    assert order.computed_total == order.channel_total == D("29.35")
    [payment] = order.payments
    assert (payment.gateway, payment.method, payment.reference, payment.amount) == (
        "bacs",
        "Direct Bank Transfer",
        "",
        D("29.35"),
    )
    assert order.customer_email == "j***@example.com"


def test_coupon_two_rates_fee_and_shipping_tax_with_tax_inclusive_prices() -> None:
    order = woocommerce.parse(load("order_1043_coupon_fee_two_rates_inclusive.json"), {})

    assert order.prices_include_tax
    assert order.currency == "CAD"
    scarf, gloves = order.lines
    # WooCommerce keeps figures before tax with the tax beside them; with tax-inclusive prices
    # the canonical figures are the sums.
    # Scarf: (subtotal 40.00 + subtotal_tax 4.80) / 2 = 22.40 a scarf;
    # discount (40.00 + 4.80) - (total 36.00 + total_tax 4.32) = 4.48 (welcome10);
    # GST 1.80 at 5%, PST 2.52 at 7%.
    assert (scarf.unit_price, scarf.quantity, scarf.discount) == (D("22.40"), 2, D("4.48"))
    assert [(d.amount, d.code) for d in scarf.discounts] == [(D("4.48"), "welcome10")]
    assert [(t.title, t.rate, t.amount, t.provider_reference) for t in scarf.tax_lines] == [
        ("GST", D("0.05"), D("1.80"), "CA-BC-GST-1"),
        ("PST", D("0.07"), D("2.52"), "CA-BC-PST-2"),
    ]
    assert order.line_total(scarf) == D("40.32")  # 44.80 - 4.48, tax inside
    # Gloves: (30.00 + 3.60) / 1 = 33.60; discount 33.60 - (27.00 + 3.24) = 3.36;
    # GST 1.35, PST 1.89.
    assert (gloves.unit_price, gloves.quantity, gloves.discount) == (D("33.60"), 1, D("3.36"))
    assert [t.amount for t in gloves.tax_lines] == [D("1.35"), D("1.89")]
    # Shipping: 10.00 + GST 0.50 + PST 0.70 = 11.20.
    [shipping] = order.shipping_lines
    assert (shipping.amount, shipping.title, shipping.tax) == (
        D("11.20"),
        "Canada Post Expedited",
        D("1.20"),
    )
    assert [t.title for t in shipping.tax_lines] == ["GST", "PST"]
    # Gift wrap fee: 5.00 + GST 0.25 + PST 0.35 = 5.60.
    [fee] = order.fees
    assert (fee.kind, fee.title, fee.amount, fee.tax) == ("fee", "Gift wrap", D("5.60"), D("0.60"))
    # subtotal 44.80 + 33.60 = 78.40
    # discount 4.48 + 3.36 = 7.84 (= discount_total 7.00 + discount_tax 0.84)
    # tax 4.32 + 3.24 + 1.20 + 0.60 = 9.36 (= total_tax), inside the prices
    # total 78.40 - 7.84 + 11.20 + 5.60 = 87.36
    assert order.subtotal == D("78.40")
    assert order.discount == D("7.84")
    assert order.shipping == D("11.20")
    assert order.fees_total == D("5.60")
    assert order.tax == D("9.36")
    assert order.computed_total == order.channel_total == D("87.36")
    [payment] = order.payments
    assert (payment.gateway, payment.reference, payment.amount, payment.method) == (
        "stripe",
        "ch_3P1xYzLkd8aQ2b1c0TtR9wXy",
        D("87.36"),
        "Credit Card (Stripe)",
    )
    assert order.customer_email == "m***@example.ca"


def test_a_quantity_that_does_not_divide_the_subtotal_stays_exact() -> None:
    payload = load("order_727_documented.json")
    line = payload["line_items"][0]
    line.update(
        quantity=3,
        subtotal="10.00",
        total="10.00",
        subtotal_tax="0.75",
        total_tax="0.75",
        taxes=[{"id": 75, "total": "0.75", "subtotal": "0.75"}],
    )
    payload["total"] = "33.65"  # 10.00 + 12.00 + 10.00 + 0.75 + 0.90

    order = woocommerce.parse(payload, {})

    # 10.00 / 3 = 3.3333... -> 3.3334 (rounded up to 4 places); 3 x 3.3334 = 10.0002, so
    # 0.0002 is booked as rounding and the line still costs 10.00 + 0.75.
    balm = order.lines[0]
    assert balm.unit_price == D("3.3334")
    assert [(d.amount, d.title) for d in balm.discounts] == [(D("0.0002"), "unit price rounding")]
    assert order.line_total(balm) == D("10.75")
    assert order.computed_total == order.channel_total == D("33.65")


def test_per_rate_taxes_are_fitted_to_the_lines_rounded_tax() -> None:
    payload = load("order_1043_coupon_fee_two_rates_inclusive.json")
    # Unrounded per-rate figures, 4.325 in all, against the line's total_tax 4.32.
    payload["line_items"][0]["taxes"] = [
        {"id": 11, "total": "1.8025", "subtotal": "2"},
        {"id": 12, "total": "2.5225", "subtotal": "2.8"},
    ]

    scarf = woocommerce.parse(payload, {}).lines[0]

    # 4.32 x 1.8025 / 4.325 = 1.800416 and 4.32 x 2.5225 / 4.325 = 2.519584; floored to cents
    # 1.80 and 2.51, the cent left over goes to the larger remainder (2.519584) -> 1.80 and
    # 2.52, adding up to 4.32.
    assert [t.amount for t in scarf.tax_lines] == [D("1.80"), D("2.52")]


def test_several_coupons_are_named_together() -> None:
    payload = load("order_1043_coupon_fee_two_rates_inclusive.json")
    payload["coupon_lines"].append(
        {"id": 508, "code": "vip", "discount": "0.00", "discount_tax": "0.00", "meta_data": []}
    )

    scarf = woocommerce.parse(payload, {}).lines[0]

    assert [(d.amount, d.code, d.title) for d in scarf.discounts] == [
        (D("4.48"), "", "welcome10, vip")
    ]


def test_falls_back_to_site_time_without_date_created_gmt() -> None:
    payload = load("order_727_documented.json")
    del payload["date_created_gmt"]
    assert woocommerce.parse(payload, {}).placed_at == datetime(2017, 3, 22, 16, 28, 2, tzinfo=UTC)


def test_cancelled_status() -> None:
    payload = load("order_727_documented.json")
    payload["status"] = "cancelled"
    assert woocommerce.parse(payload, {}).cancelled


def test_personal_data_stays_out_of_metadata() -> None:
    order = woocommerce.parse(load("order_1043_coupon_fee_two_rates_inclusive.json"), {})

    dumped = json.dumps(order.metadata, default=str)
    assert order.metadata["order_key"] == "wc_order_6Jm2QpXr8sT0v"
    for personal in (
        "Maria",
        "Lopez",
        "Robson",
        "604 555",
        "198.51.100.24",
        "Mozilla",
        "concierge",
    ):
        assert personal not in dumped
    assert "Maria.Lopez" not in order.customer_email + order.customer_ref


def test_every_unreadable_field_is_reported_at_once() -> None:
    payload = load("order_1043_coupon_fee_two_rates_inclusive.json")
    del payload["id"]
    del payload["currency"]
    payload["date_created_gmt"] = "9 March 2024"
    payload["total"] = 87.36  # a float, which never reaches an adapter from parse_float=Decimal
    payload["prices_include_tax"] = "yes"
    payload["line_items"][0]["quantity"] = "2.5"
    payload["line_items"][1]["subtotal"] = "thirty"
    payload["shipping_lines"][0]["taxes"][1]["total"] = "0,7"
    payload["fee_lines"][0]["total"] = None

    with pytest.raises(MalformedPayload) as raised:
        woocommerce.parse(payload, {})

    assert {e.field for e in raised.value.errors} == {
        "id",
        "currency",
        "date_created_gmt",
        "total",
        "prices_include_tax",
        "line_items[0].quantity",
        "line_items[1].subtotal",
        "shipping_lines[0].taxes[1].total",
        "fee_lines[0].total",
    }


def test_business_rules_are_left_to_the_validator() -> None:
    payload = load("order_727_documented.json")
    payload["line_items"][1]["quantity"] = -1
    payload["line_items"][1]["subtotal"] = payload["line_items"][1]["total"] = "-12.00"

    line = woocommerce.parse(payload, {}).lines[1]

    # -12.00 / -1 = 12.00 a unit, -1 of them.
    assert (line.quantity, line.unit_price, line.discount) == (-1, D(12), 0)
