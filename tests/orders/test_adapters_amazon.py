"""Amazon SP-API Orders v0 to canonical orders, checked against figures worked out by hand."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orders.adapters.amazon import parse
from orders.adapters.base import CanonicalOrder, MalformedPayload

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "amazon"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(), parse_float=Decimal)


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"))


def totals(order: CanonicalOrder) -> tuple[Decimal, ...]:
    return tuple(
        cents(x)
        for x in (order.subtotal, order.discount, order.shipping, order.tax, order.computed_total)
    )


def money(amount: str, currency: str = "USD") -> dict[str, str]:
    return {"CurrencyCode": currency, "Amount": amount}


# --- the spec's sandbox example, each part wrapped in {"payload": ...} ----------------------


def test_documented_sandbox_order_adds_up() -> None:
    order = parse(load("sandbox_unshipped_wrapped.json"), {})

    assert order.external_id == "902-1845936-5435065"
    assert order.placed_at == datetime(1970, 1, 19, 3, 58, 30, tzinfo=UTC)
    assert order.source_updated_at == datetime(1970, 1, 19, 3, 58, 32, tzinfo=UTC)
    assert (order.currency, order.channel_status, order.cancelled) == ("USD", "Unshipped", False)
    assert order.prices_include_tax is False
    assert order.fulfilment_location == ""
    # 11.01 = ItemPrice 10.00 + ItemTax 1.01; a 0.00 promotion is no discount
    assert totals(order) == (
        Decimal("10.00"),
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("1.01"),
        Decimal("11.01"),
    )
    assert order.channel_total == order.computed_total == Decimal("11.01")
    (line,) = order.lines
    assert (line.sku, line.external_id, line.quantity, line.unit_price) == (
        "NABetaASINB00551Q3CS",
        "05015851154158",
        1,
        Decimal("10.00"),
    )
    assert line.discounts == []
    assert line.metadata["ASIN"] == "B00551Q3CS"


def test_canceled_status_marks_the_order_cancelled() -> None:
    payload = load("sandbox_unshipped_wrapped.json")
    payload["Order"]["payload"]["OrderStatus"] = "Canceled"

    order = parse(payload, {})

    assert (order.channel_status, order.cancelled) == ("Canceled", True)


# --- a US order: quantity 3 that does not divide, promotion, shipping and its tax ----------


@pytest.fixture
def us_order() -> dict[str, Any]:
    return load("us_mfn_two_items_promotion.json")


def test_us_order_totals_match_order_total(us_order: dict[str, Any]) -> None:
    order = parse(us_order, {})

    # subtotal = ItemPrice 50.00 (3 pairs) + 12.00                    = 62.00
    # discount = promotion 5.00 + shipping discount 2.00               =  7.00
    # shipping = 4.99 + 2.00                                           =  6.99
    # tax      = item (3.00 - 0.30 tax on the promotion) = 2.70
    #            + 0.72 + shipping 0.30 + (0.12 - 0.12 on its discount) =  3.72
    # total    = 62.00 - 7.00 + 6.99 + 3.72                            = 65.71
    assert totals(order) == (
        Decimal("62.00"),
        Decimal("7.00"),
        Decimal("6.99"),
        Decimal("3.72"),
        Decimal("65.71"),
    )
    assert order.channel_total == Decimal("65.71")
    assert cents(order.computed_total) == order.channel_total
    assert order.prices_include_tax is False
    assert order.order_number == "113-4829147-6102653"


def test_item_price_is_divided_by_quantity_without_losing_the_cent(
    us_order: dict[str, Any],
) -> None:
    socks, beanie = parse(us_order, {}).lines

    # 50.00 / 3 = 16.666...: rounded to cents, 3 x 16.67 = 50.01 and 3 x 16.66 = 49.98;
    # rounded to 4 places 3 x 16.6667 = 50.0001. The unit keeps 28 digits instead.
    assert socks.quantity == 3
    assert cents(socks.unit_price) == Decimal("16.67")
    assert socks.unit_price != Decimal("16.6667")
    assert abs(socks.unit_price * 3 - Decimal("50.00")) < Decimal("1e-20")
    assert socks.gross.quantize(Decimal("0.0001")) == Decimal("50.0000")
    assert socks.metadata["ItemPrice"] == money("50.00")  # the exact figure, kept
    assert beanie.unit_price == Decimal("12.00")


def test_promotion_and_marketplace_facilitator_tax_land_on_the_line(
    us_order: dict[str, Any],
) -> None:
    order = parse(us_order, {})
    socks, beanie = order.lines

    assert [(d.amount, d.code) for d in socks.discounts] == [(Decimal("5.00"), "PLM-SPRING5")]
    # ItemTax 3.00 is 6% of 50.00; the promotion takes back 6% of 5.00 = 0.30
    assert [(t.amount, t.collected_by_channel) for t in socks.tax_lines] == [
        (Decimal("2.70"), True)
    ]
    assert cents(order.line_total(socks)) == Decimal("47.70")  # 50.00 - 5.00 + 2.70
    assert order.line_total(beanie) == Decimal("12.72")  # 12.00 + 0.72
    assert socks.metadata["PromotionIds"] == ["PLM-SPRING5"]


def test_each_item_with_shipping_gets_its_own_shipping_line(us_order: dict[str, Any]) -> None:
    first, second = parse(us_order, {}).shipping_lines

    assert (first.title, first.code, first.amount, first.discounts) == (
        "Shipping",
        "Std US D2D Dom",
        Decimal("4.99"),
        [],
    )
    assert [(t.amount, t.collected_by_channel) for t in first.tax_lines] == [
        (Decimal("0.30"), True)
    ]
    # free shipping on the beanie: 2.00 charged, 2.00 off, its 0.12 tax taken back too
    assert second.amount == Decimal("2.00")
    assert [d.amount for d in second.discounts] == [Decimal("2.00")]
    assert second.tax_lines == []


def test_one_amazon_payment_for_the_order_total(us_order: dict[str, Any]) -> None:
    (payment,) = parse(us_order, {}).payments

    assert (payment.gateway, payment.reference, payment.amount, payment.method) == (
        "amazon",
        "113-4829147-6102653",
        Decimal("65.71"),
        "Other",
    )


def test_buyer_data_is_masked_and_kept_out_of_metadata(us_order: dict[str, Any]) -> None:
    order = parse(us_order, {})

    email = "q4x9z2k7mv3b8r1@marketplace.amazon.com"
    assert order.customer_email == "q***@marketplace.amazon.com"
    assert order.customer_ref == hashlib.sha256(email.encode()).hexdigest()[:16]
    assert "BuyerInfo" not in order.metadata
    assert "ShippingAddress" not in order.metadata
    everything = dataclasses.asdict(order)
    del everything["customer_email"]
    dumped = json.dumps(everything, default=str).lower()
    for personal in ("pat doe", "evergreen", "97477", "555-0199", "q4x9z2k7"):
        assert personal not in dumped
    assert order.metadata["MarketplaceId"] == "ATVPDKIKX0DER"


def test_business_rules_are_left_to_the_validator(us_order: dict[str, Any]) -> None:
    item = us_order["OrderItems"][1]
    del item["SellerSKU"]
    item["QuantityOrdered"] = -1

    line = parse(us_order, {}).lines[1]

    assert (line.sku, line.quantity) == ("", -1)


@pytest.mark.parametrize(
    ("item_price", "quantity", "unit_price"),
    [
        ("19.98", 2, Decimal("9.99")),
        ("10.00", 8, Decimal("1.25")),
        ("0.01", 16, Decimal("0.000625")),  # terminates beyond 4 places: kept exactly
    ],
)
def test_unit_price_is_exact_when_the_division_terminates(
    item_price: str,
    quantity: int,
    unit_price: Decimal,
) -> None:
    payload = load("sandbox_unshipped_wrapped.json")
    item = payload["OrderItems"]["payload"]["OrderItems"][0]
    item["ItemPrice"], item["QuantityOrdered"] = money(item_price), quantity

    (line,) = parse(payload, {}).lines

    assert line.unit_price == unit_price
    assert line.unit_price * quantity == Decimal(item_price)


# --- a Pending order: no OrderTotal yet ----------------------------------------------------


def test_pending_order_without_total_has_no_channel_total() -> None:
    order = parse(load("us_pending_without_total.json"), {})

    assert (order.channel_status, order.channel_total) == ("Pending", None)
    assert order.currency == "USD"  # from the item's ItemPrice
    # 2 x 19.99 = 39.98, no tax yet; the order's total is the computed one
    assert order.lines[0].unit_price == Decimal("19.99")
    assert order.total == order.computed_total == Decimal("39.98")
    assert [p.amount for p in order.payments] == [Decimal("39.98")]
    assert order.prices_include_tax is False


def test_pending_order_without_any_price_takes_currency_and_tax_mode_from_marketplace() -> None:
    payload = load("us_pending_without_total.json")
    payload["Order"]["payload"]["MarketplaceId"] = "A1PA6795UKMFR9"  # Amazon.de
    del payload["OrderItems"]["payload"]["OrderItems"][0]["ItemPrice"]

    order = parse(payload, {})

    assert (order.currency, order.prices_include_tax) == ("EUR", True)
    assert order.lines[0].unit_price == Decimal("0")


# --- Amazon.de, fulfilled by Amazon, VAT inside the prices, gift wrap ----------------------


@pytest.fixture
def de_order() -> dict[str, Any]:
    return load("de_fba_vat_included.json")


def test_amazon_de_order_includes_vat(de_order: dict[str, Any]) -> None:
    order = parse(de_order, {})

    assert (order.currency, order.prices_include_tax) == ("EUR", True)
    assert order.fulfilment_location == "AMAZON-FBA"
    # subtotal = 39.98 (2 x 19.99); shipping 4.99; gift wrap 3.99 (a fee)
    # VAT 19% inside: 39.98 x 19/119 = 6.383 -> 6.38; 4.99 -> 0.797 -> 0.80;
    #                 3.99 -> 0.637 -> 0.64; tax = 6.38 + 0.80 + 0.64 = 7.82
    # total = 39.98 + 4.99 + 3.99 = 48.96 (the VAT is already in it)
    assert totals(order) == (
        Decimal("39.98"),
        Decimal("0.00"),
        Decimal("4.99"),
        Decimal("7.82"),
        Decimal("48.96"),
    )
    assert order.computed_total == order.channel_total == Decimal("48.96")
    assert order.lines[0].unit_price == Decimal("19.99")
    assert order.line_total(order.lines[0]) == Decimal("39.98")
    (wrap,) = order.fees
    assert (wrap.kind, wrap.amount, wrap.tax) == ("gift_wrap", Decimal("3.99"), Decimal("0.64"))
    assert order.customer_email == "a***@marketplace.amazon.de"
    dumped = json.dumps(dataclasses.asdict(order), default=str).lower()
    for personal in ("musterfrau", "heidestrasse", "51147", "frohe weihnachten"):
        assert personal not in dumped


def test_order_total_decides_tax_mode_outside_north_america(de_order: dict[str, Any]) -> None:
    # same figures on a marketplace the adapter has no default for (Amazon.com.au):
    # 48.96 = 39.98 + 4.99 + 3.99, so the 7.82 tax is inside the prices
    de_order["Order"]["MarketplaceId"] = "A39IBJ37TRP1C6"
    assert parse(de_order, {}).prices_include_tax is True

    # a total of 48.96 + 7.82 = 56.78 can only mean tax on top, even on Amazon.de
    de_order["Order"]["MarketplaceId"] = "A1PA6795UKMFR9"
    de_order["Order"]["OrderTotal"] = money("56.78", "EUR")
    order = parse(de_order, {})
    assert order.prices_include_tax is False
    assert order.computed_total == Decimal("56.78")


def test_north_american_marketplaces_always_exclude_tax(de_order: dict[str, Any]) -> None:
    de_order["Order"]["MarketplaceId"] = "A2EUQ1WTGCTBG2"  # Amazon.ca
    assert parse(de_order, {}).prices_include_tax is False


# --- Amazon.co.jp cash on delivery, part paid with a gift card ----------------------------


def test_cod_fee_and_sub_payments() -> None:
    order = parse(load("jp_cod_split_payment.json"), {})

    assert (order.currency, order.prices_include_tax) == ("JPY", True)
    # 1980 (consumption tax 180 inside) + COD fee 330 = 2310
    assert [(f.kind, f.amount) for f in order.fees] == [("cod", Decimal("330"))]
    assert order.computed_total == order.channel_total == Decimal("2310")
    assert order.shipping_lines == []  # a 0 shipping price is no shipping line
    # 2000 cash + 310 gift card = 2310
    assert [(p.method, p.kind, p.amount) for p in order.payments] == [
        ("COD", "sale", Decimal("2000")),
        ("GC", "gift_card", Decimal("310")),
    ]
    assert {p.reference for p in order.payments} == {"503-1234567-7654321"}


# --- malformed payloads -------------------------------------------------------------------


def test_malformed_payload_lists_every_bad_field(us_order: dict[str, Any]) -> None:
    payload = copy.deepcopy(us_order)
    del payload["Order"]["AmazonOrderId"]
    payload["Order"]["PurchaseDate"] = "04/02/2024"
    payload["Order"]["OrderTotal"]["Amount"] = "sixty-five"
    del payload["OrderItems"][0]["QuantityOrdered"]
    payload["OrderItems"][1]["ItemPrice"]["Amount"] = "12,00"
    payload["OrderItems"][1]["ShippingTax"]["CurrencyCode"] = "CAD"

    with pytest.raises(MalformedPayload) as caught:
        parse(payload, {})

    assert sorted(e.field for e in caught.value.errors) == sorted(
        [
            "Order.AmazonOrderId",
            "Order.PurchaseDate",
            "Order.OrderTotal.Amount",
            "OrderItems[0].QuantityOrdered",
            "OrderItems[1].ItemPrice.Amount",
            "OrderItems[1].ShippingTax.CurrencyCode",
        ]
    )


def test_items_of_another_order_or_a_partial_page_are_refused() -> None:
    payload = load("sandbox_unshipped_wrapped.json")
    payload["OrderItems"]["payload"]["AmazonOrderId"] = "902-0000000-0000000"
    payload["OrderItems"]["payload"]["NextToken"] = "2YgYW55IGNhcm5hbCBwbGVhc3VyZS4"

    with pytest.raises(MalformedPayload) as caught:
        parse(payload, {})

    assert sorted(e.field for e in caught.value.errors) == [
        "OrderItems.AmazonOrderId",
        "OrderItems.NextToken",
    ]


def test_missing_order_and_items_are_reported() -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse({}, {})

    fields = {e.field for e in caught.value.errors}
    assert {"Order", "OrderItems", "Order.AmazonOrderId", "Order.PurchaseDate"} <= fields


def test_a_payload_that_is_not_an_object_is_malformed() -> None:
    with pytest.raises(MalformedPayload):
        parse("902-1845936-5435065", {})
