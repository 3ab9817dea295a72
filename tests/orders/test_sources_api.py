"""Every source's real-format payloads through the HTTP endpoint, end to end.

The oracle is the channel's own order total, in its own format: the canonical total must equal
it to the cent (API.md "Canonical amounts"), and the parts must add up to it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from retailsync.core.models import ExceptionItem
from tests.conftest import fixture_bytes

pytestmark = pytest.mark.django_db

# (source, fixture, the channel's own total as written in the payload, currency)
ACCEPTED = [
    ("shopify", "shopify/orders_create_split_tender.json", "121.40", "USD"),
    ("shopify", "shopify/orders_create_taxes_included_presentment.json", "111.77", "EUR"),
    ("amazon", "amazon/us_mfn_two_items_promotion.json", "65.71", "USD"),
    ("amazon", "amazon/de_fba_vat_included.json", "48.96", "EUR"),
    ("amazon", "amazon/jp_cod_split_payment.json", "2310", "JPY"),
    ("amazon", "amazon/sandbox_unshipped_wrapped.json", "11.01", "USD"),
    ("pos", "square/order_additive_tax_tip_split_tender.json", "14.69", "USD"),
    ("pos", "square/retrieve_order_spec_example.json", "5.50", "USD"),
    ("magento", "magento/order_3_documented.json", "165.00", "USD"),
    ("magento", "magento/order_42_bundle_discount_shipping_tax.json", "167.56", "USD"),
    ("magento", "magento/order_77_discount_on_tax_inclusive_prices.json", "27.60", "EUR"),
    ("woocommerce", "woocommerce/order_1043_coupon_fee_two_rates_inclusive.json", "87.36", "CAD"),
]


@pytest.mark.parametrize(("source", "fixture", "total", "currency"), ACCEPTED)
def test_a_real_payload_becomes_a_canonical_order_whose_total_is_the_channels(
    make_channel, staff, source, fixture, total, currency
):
    channel = make_channel(source, code=f"{source}-1")

    response = channel.post_order(fixture_bytes(fixture))

    assert response.status_code == 201, response.json()
    order = staff("finance").get(f"/api/v1/orders/{response.json()['id']}").json()
    assert order["currency"] == currency
    totals = {k: Decimal(v) for k, v in order["totals"].items()}
    assert totals["total"] == Decimal(total)
    tax_on_top = 0 if order["prices_include_tax"] else totals["tax"]
    assert (
        totals["subtotal"] - totals["discount"] + totals["shipping"] + totals["fees"] + tax_on_top
    ) == pytest.approx(totals["total"], abs=Decimal("0.01"))
    assert sum(Decimal(line["total"]) for line in order["lines"]) > 0
    assert all(line["sku"] for line in order["lines"] if not line["is_gift_card"])


def test_shopifys_documented_test_notification_does_not_add_up_and_is_refused(make_channel):
    # formats.md: 398 − 20 = 378, not 388, and 388 leaves out the 10.00 shipping.
    channel = make_channel("shopify", code="shop")

    response = channel.post_order(fixture_bytes("shopify/orders_create_test_notification.json"))

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["total"]
    assert ExceptionItem.objects.get().kind == "order_rejected"


def test_woocommerces_documented_order_has_a_line_without_sku_and_is_refused(make_channel):
    channel = make_channel("woocommerce", code="woo")

    response = channel.post_order(fixture_bytes("woocommerce/order_727_documented.json"))

    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "lines[0].sku", "message": "is required"}]


def test_an_amazon_order_without_a_total_yet_is_accepted_at_its_computed_total(make_channel, staff):
    channel = make_channel("amazon", code="amz")

    response = channel.post_order(fixture_bytes("amazon/us_pending_without_total.json"))

    assert response.status_code == 201
    order = staff("finance").get(f"/api/v1/orders/{response.json()['id']}").json()
    assert order["channel_status"] == "Pending"
