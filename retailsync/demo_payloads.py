"""The demo's orders in each channel's own format: Shopify, Amazon SP-API, Square, Adobe
Commerce, WooCommerce and canonical JSON, built from one `DemoOrder` so their amounts agree to
the cent. `retailsync.demo` sends them through the live pipeline."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from retailsync.core.money import allocate

from .demo_orders import DemoOrder, cents, s


def shopify(o: DemoOrder) -> dict[str, Any]:
    return {
        "id": 5500000000000000000 + o.number,
        "name": f"#{o.number}",
        "order_number": o.number,
        "currency": o.currency,
        "presentment_currency": o.currency,
        "created_at": o.placed_at.isoformat(),
        "updated_at": o.placed_at.isoformat(),
        "processed_at": o.placed_at.isoformat(),
        "taxes_included": False,
        "financial_status": "paid",
        "fulfillment_status": None,
        "cancelled_at": None,
        "email": f"customer{o.number}@example.com",
        "total_line_items_price": s(o.subtotal),
        "total_discounts": s(o.discount),
        "subtotal_price": s(o.subtotal - o.discount),
        "total_tax": s(o.tax),
        "total_price": s(o.total),
        "payment_gateway_names": ["shopify_payments"],
        "discount_applications": [
            {
                "type": "discount_code",
                "value": "10.0",
                "value_type": "percentage",
                "allocation_method": "across",
                "target_selection": "all",
                "target_type": "line_item",
                "code": o.code,
            }
        ]
        if o.code
        else [],
        "discount_codes": [{"code": o.code, "amount": s(o.discount), "type": "percentage"}]
        if o.code
        else [],
        "line_items": [
            {
                "id": 9900000000 + o.number * 10 + i,
                "sku": line.sku,
                "name": line.name,
                "title": line.name,
                "quantity": line.quantity,
                "price": s(line.price),
                "total_discount": "0.00",
                "taxable": True,
                "gift_card": False,
                "tax_lines": [{"title": "NY State Tax", "rate": o.rate, "price": s(line.tax)}],
                "discount_allocations": [
                    {"amount": s(line.discount), "discount_application_index": 0}
                ]
                if line.discount
                else [],
            }
            for i, line in enumerate(o.lines)
        ],
        "shipping_lines": [
            {
                "id": 7700000 + o.number,
                "title": "Standard",
                "code": "STD",
                "price": s(o.shipping),
                "discounted_price": s(o.shipping),
                "tax_lines": [
                    {"title": "NY State Tax", "rate": o.rate, "price": s(o.shipping_tax)}
                ],
                "discount_allocations": [],
            }
        ]
        if o.shipping
        else [],
        "tax_lines": [],
        "refunds": [],
    }


def amazon(o: DemoOrder) -> dict[str, Any]:
    def money(value: Decimal) -> dict[str, str]:
        return {"CurrencyCode": o.currency, "Amount": s(value)}

    shipping_each = allocate(o.shipping, [Decimal(1)] * len(o.lines), o.currency)
    ship_tax_each = allocate(o.shipping_tax, [Decimal(1)] * len(o.lines), o.currency)
    order_id = f"111-{o.number:07d}-{o.number * 7 % 10_000_000:07d}"
    stamp = o.placed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "Order": {
            "AmazonOrderId": order_id,
            "PurchaseDate": stamp,
            "LastUpdateDate": stamp,
            "OrderStatus": "Unshipped",
            "FulfillmentChannel": "MFN",
            "SalesChannel": "Amazon.com",
            "MarketplaceId": "ATVPDKIKX0DER",
            "OrderTotal": money(o.total),
            "PaymentMethod": "Other",
            "OrderType": "StandardOrder",
            "IsPrime": False,
        },
        "OrderItems": [
            {
                "ASIN": f"B0DEMO{i}{o.number % 1000:03d}",
                "OrderItemId": f"{o.number}{i:02d}",
                "SellerSKU": line.sku,
                "Title": line.name,
                "QuantityOrdered": line.quantity,
                "QuantityShipped": 0,
                "ItemPrice": money(line.gross),
                "ItemTax": money(line.tax),
                "PromotionDiscount": money(line.discount),
                "PromotionIds": [o.code] if line.discount else [],
                "ShippingPrice": money(shipping_each[i]),
                "ShippingTax": money(ship_tax_each[i]),
                "IsGift": "false",
                "TaxCollection": {
                    "Model": "MarketplaceFacilitator",
                    "ResponsibleParty": "Amazon Services, Inc.",
                },
            }
            for i, line in enumerate(o.lines)
        ],
    }


def square(o: DemoOrder) -> dict[str, Any]:
    def money(value: Decimal) -> dict[str, Any]:
        return {"amount": int(value * 100), "currency": o.currency}

    stamp = o.placed_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    total = o.total - o.shipping - o.shipping_tax  # a till sale ships nothing
    return {
        "id": f"DEMO{o.number:018d}",
        "location_id": "STORE-NYC",
        "state": "COMPLETED",
        "created_at": stamp,
        "updated_at": stamp,
        "closed_at": stamp,
        "version": 3,
        "line_items": [
            {
                "uid": f"li-{i}",
                "name": line.name,
                "quantity": str(line.quantity),
                "catalog_object_id": f"VAR-{line.sku}",
                "metadata": {"sku": line.sku},
                "base_price_money": money(line.price),
                "gross_sales_money": money(line.gross),
                "total_discount_money": money(line.discount),
                "total_tax_money": money(line.tax),
                "total_money": money(line.gross - line.discount + line.tax),
                "applied_taxes": [
                    {"uid": f"at-{i}", "tax_uid": "ny-sales-tax", "applied_money": money(line.tax)}
                ],
            }
            for i, line in enumerate(o.lines)
        ],
        "taxes": [
            {
                "uid": "ny-sales-tax",
                "name": "NY Sales Tax",
                "percentage": "8.875",
                "type": "ADDITIVE",
                "scope": "LINE_ITEM",
            }
        ],
        "total_money": money(total),
        "total_tax_money": money(o.tax - o.shipping_tax),
        "total_discount_money": money(o.discount),
        "tenders": [
            {
                "id": f"T{o.number}",
                "type": "CARD",
                "amount_money": money(total),
                "payment_id": f"PAY{o.number}",
            }
        ],
    }


def adyen_psp_reference(number: int) -> str:
    """16 characters, as Adyen's are."""
    return f"88{number:06d}{number * 7919 % 10**8:08d}"


def paypal_transaction_id(number: int) -> str:
    """17 characters, as PayPal's are."""
    return f"7{number:05d}DM{number * 7919 % 10**9:09d}"


def magento(o: DemoOrder) -> dict[str, Any]:
    def num(value: Decimal) -> Decimal:
        return cents(value)

    return {
        "entity_id": o.number,
        "increment_id": f"{o.number:09d}",
        "state": "processing",
        "status": "processing",
        "order_currency_code": o.currency,
        "base_currency_code": o.currency,
        "created_at": o.placed_at.strftime("%Y-%m-%d %H:%M:%S"),
        "updated_at": o.placed_at.strftime("%Y-%m-%d %H:%M:%S"),
        "customer_email": f"kunde{o.number}@example.de",
        "subtotal": num(o.subtotal),
        "discount_amount": -num(o.discount),
        "shipping_amount": num(o.shipping),
        "shipping_tax_amount": num(o.shipping_tax),
        "shipping_discount_amount": Decimal(0),
        "tax_amount": num(o.tax),
        "grand_total": num(o.total),
        "base_grand_total": num(o.total),
        "total_qty_ordered": sum(line.quantity for line in o.lines),
        "items": [
            {
                "item_id": o.number * 10 + i,
                "sku": line.sku,
                "name": line.name,
                "product_type": "simple",
                "qty_ordered": line.quantity,
                "price": num(line.price),
                "row_total": num(line.gross),
                "discount_amount": num(line.discount),
                "tax_amount": num(line.tax),
                "tax_percent": o.rate * 100,
                "row_total_incl_tax": num(line.gross + line.tax),
            }
            for i, line in enumerate(o.lines)
        ],
        # Paid by card through Adyen's Magento plugin: the PSP reference is the transaction id.
        "payment": {
            "method": "adyen_cc",
            "cc_type": "visa" if o.number % 3 else "mc",
            "amount_ordered": num(o.total),
            "amount_paid": num(o.total),
            "last_trans_id": adyen_psp_reference(o.number),
        },
    }


def woocommerce(o: DemoOrder) -> dict[str, Any]:
    return {
        "id": o.number,
        "number": str(o.number),
        "status": "processing",
        "currency": o.currency,
        "prices_include_tax": False,
        "date_created": o.placed_at.strftime("%Y-%m-%dT%H:%M:%S"),
        "date_created_gmt": o.placed_at.strftime("%Y-%m-%dT%H:%M:%S"),
        "discount_total": s(o.discount),
        "shipping_total": s(o.shipping),
        "shipping_tax": s(o.shipping_tax),
        "cart_tax": s(o.tax - o.shipping_tax),
        "total_tax": s(o.tax),
        "total": s(o.total),
        "payment_method": "paypal",  # WooCommerce PayPal Standard
        "payment_method_title": "PayPal",
        "transaction_id": paypal_transaction_id(o.number),
        "billing": {"email": f"buyer{o.number}@example.co.uk"},
        "line_items": [
            {
                "id": o.number * 10 + i,
                "name": line.name,
                "sku": line.sku,
                "quantity": line.quantity,
                "price": cents((line.gross - line.discount) / line.quantity),
                "subtotal": s(line.gross),
                "subtotal_tax": s(cents(line.gross * o.rate)),
                "total": s(line.gross - line.discount),
                "total_tax": s(line.tax),
                "taxes": [
                    {"id": 1, "total": s(line.tax), "subtotal": s(cents(line.gross * o.rate))}
                ],
            }
            for i, line in enumerate(o.lines)
        ],
        "shipping_lines": [
            {
                "id": o.number * 10 + 9,
                "method_id": "flat_rate",
                "method_title": "Flat rate",
                "total": s(o.shipping),
                "total_tax": s(o.shipping_tax),
                "taxes": [{"id": 1, "total": s(o.shipping_tax)}],
            }
        ]
        if o.shipping
        else [],
        "tax_lines": [
            {
                "id": 1,
                "rate_code": "GB-VAT-1",
                "rate_id": 1,
                "label": "VAT",
                "compound": False,
                "tax_total": s(o.tax - o.shipping_tax),
                "shipping_tax_total": s(o.shipping_tax),
                "rate_percent": 20,
            }
        ],
        "fee_lines": [],
        "coupon_lines": [{"id": 5, "code": o.code.lower(), "discount": s(o.discount)}]
        if o.code
        else [],
    }


def canonical(o: DemoOrder) -> dict[str, Any]:
    return {
        "external_id": f"WS-{o.number}",
        "order_number": f"WS-{o.number}",
        "currency": o.currency,
        "placed_at": o.placed_at.isoformat(),
        "prices_include_tax": False,
        "customer_email": f"buyer{o.number}@example.com",
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": s(line.price),
                "discount": s(line.discount),
                "tax": s(line.tax),
            }
            for line in o.lines
        ],
        "shipping": {"amount": s(o.shipping), "discount": "0.00", "tax": s(o.shipping_tax)},
        "payments": [
            {"gateway": "bank_transfer", "reference": f"INV-{o.number}", "amount": s(o.total)}
        ],
        "total": s(o.total),
    }


BUILDERS = {
    "shopify": shopify,
    "amazon": amazon,
    "pos": square,
    "magento": magento,
    "woocommerce": woocommerce,
    "canonical": canonical,
}
