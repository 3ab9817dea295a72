"""The demo retailer: channels of every source, staff users, and a month of orders.

It lives in the top app of the ladder because it feeds every domain. Orders are built in each
channel's own format and sent through the same pipeline a live delivery takes (stored as inbound
messages, adapted, validated), so the demo shows what production would: a few of them are wrong
on purpose and wait in the exception queue.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from inventory.availability import availability_refresh_all
from inventory.models import Reservation
from inventory.services import (
    EventInput,
    allocation_set,
    item_upsert,
    location_upsert,
    stock_events_apply,
)
from orders.models import Order
from orders.services import LineRequest, order_cancel, order_message_process, shipment_create
from retailsync.core.auth import token_issue
from retailsync.core.correlation import new_correlation_id, set_correlation_id
from retailsync.core.models import Channel
from retailsync.core.money import allocate
from retailsync.core.services import channel_create, inbound_message_store, user_create
from returns.models import Return
from returns.services import (
    Disposition,
    return_authorize,
    return_close,
    return_inspect,
    return_receive,
    return_refund,
    return_reject,
    return_request,
)
from returns.services import LineInput as ReturnLineInput

CENT = Decimal("0.01")
DEMO_PASSWORD = "demo-pass-2026"

CATALOG = [
    ("TSHIRT-BLK-M", "Organic tee, black, M", Decimal("24.50")),
    ("TSHIRT-WHT-L", "Organic tee, white, L", Decimal("24.50")),
    ("HOODIE-GRY-M", "Hoodie, grey, M", Decimal("59.00")),
    ("MUG-WHT", "Stoneware mug", Decimal("15.00")),
    ("CAP-NVY", "Cap, navy", Decimal("19.90")),
    ("SOCKS-3PK", "Socks, 3 pack", Decimal("12.00")),
    ("TOTE-NAT", "Canvas tote", Decimal("18.00")),
    ("BOTTLE-750", "Steel bottle 750 ml", Decimal("29.00")),
]

CHANNELS = [
    # code, source, currency, legal entity, locations feeding it (priority order)
    ("webshop", "shopify", "USD", "US01", ["WH-NJ", "STORE-NYC"]),
    ("amazon-us", "amazon", "USD", "US01", ["WH-NJ"]),
    ("store-nyc", "pos", "USD", "US01", ["STORE-NYC"]),
    ("magento-eu", "magento", "EUR", "DE01", ["WH-DE"]),
    ("woo-uk", "woocommerce", "GBP", "UK01", ["3PL-UK"]),
    ("wholesale", "canonical", "USD", "US01", ["WH-NJ"]),
]
LOCATIONS = [
    ("WH-NJ", "warehouse", "Newark DC"),
    ("STORE-NYC", "store", "Soho store"),
    ("WH-DE", "warehouse", "Leipzig DC"),
    ("3PL-UK", "3pl", "Midlands 3PL"),
]
# Units received per location; the bottle runs short on purpose (backorders to look at).
STOCK = {"WH-NJ": 60, "STORE-NYC": 25, "WH-DE": 40, "3PL-UK": 30}
SHORT_SKU = "BOTTLE-750"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class DemoLine:
    sku: str
    name: str
    quantity: int
    price: Decimal
    discount: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)

    @property
    def gross(self) -> Decimal:
        return self.price * self.quantity


@dataclass
class DemoOrder:
    number: int
    placed_at: datetime
    currency: str
    lines: list[DemoLine]
    shipping: Decimal
    shipping_tax: Decimal
    rate: Decimal
    code: str

    @property
    def discount(self) -> Decimal:
        return sum((line.discount for line in self.lines), Decimal(0))

    @property
    def tax(self) -> Decimal:
        return sum((line.tax for line in self.lines), Decimal(0)) + self.shipping_tax

    @property
    def subtotal(self) -> Decimal:
        return sum((line.gross for line in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.discount + self.shipping + self.tax


def demo_order(
    rng: random.Random, number: int, placed_at: datetime, currency: str, rate: Decimal
) -> DemoOrder:
    picks = rng.sample(CATALOG, rng.randint(1, 3))
    lines = [DemoLine(sku, name, rng.randint(1, 3), price) for sku, name, price in picks]
    code = ""
    if rng.random() < 0.3:
        code = "WELCOME10"
        gross = sum((line.gross for line in lines), Decimal(0))
        shares = allocate(cents(gross / 10), [line.gross for line in lines], currency)
        for line, share in zip(lines, shares, strict=True):
            line.discount = share
    for line in lines:
        line.tax = cents((line.gross - line.discount) * rate)
    shipping = Decimal("0") if rng.random() < 0.25 else Decimal("6.00")
    return DemoOrder(
        number, placed_at, currency, lines, shipping, cents(shipping * rate), rate, code
    )


def s(value: Decimal) -> str:
    return f"{value:.2f}"


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
        "payment": {
            "method": "checkmo",
            "amount_ordered": num(o.total),
            "last_trans_id": f"M{o.number}",
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
        "payment_method": "stripe",
        "payment_method_title": "Credit card",
        "transaction_id": f"ch_woo{o.number}",
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
RATES = {"USD": Decimal("0.08875"), "EUR": Decimal("0.19"), "GBP": Decimal("0.20")}


def _deliver(channel: Channel, payload: Any, *, placed_at: datetime) -> list[Any]:
    correlation_id = new_correlation_id()
    set_correlation_id(correlation_id)
    message = inbound_message_store(
        channel=channel,
        kind="order",
        body=json.dumps(payload, default=str).encode(),
        headers={"Content-Type": "application/json"},
        correlation_id=correlation_id,
    )
    return order_message_process(message=message, now=placed_at)


def seed(*, orders_per_channel: int = 25, now: datetime | None = None) -> dict[str, Any]:
    """Idempotent: what exists is left alone; a channel that has orders gets no more."""
    now = now or timezone.now()
    rng = random.Random(2026)
    # channels: the tokens of channels created now; tokens: one for every demo channel, new on
    # each run (a token is shown once), so the person starting the demo can always post.
    report: dict[str, Any] = {
        "users": [],
        "channels": {},
        "tokens": {},
        "orders": 0,
        "rejected": 0,
    }
    for username, role in (("finance", "finance"), ("ops", "operations"), ("admin", "admin")):
        user_create(username=username, role=role, password=DEMO_PASSWORD)
        report["users"].append(username)
    _seed_stock(now)
    for n, (code, source, currency, entity, feeding) in enumerate(CHANNELS):
        channel = Channel.objects.filter(code=code).first()
        if channel is None:
            channel, token = channel_create(
                code=code,
                source=source,
                currency=currency,
                legal_entity=entity,
                secret=f"demo-secret-{code}",
            )
            report["channels"][code] = token
            allocation_set(
                channel=channel,
                locations=feeding,
                safety_stock=2,
                share_percent=Decimal(50) if source == "amazon" else None,
                reservation_ttl_minutes=60 * 24 if source == "amazon" else None,
            )
        else:
            token = token_issue(channel=channel)
        report["tokens"][code] = token
        if Order.objects.filter(channel=channel).exists():
            continue
        for i in range(orders_per_channel):
            placed = now - timedelta(
                days=30 * (orders_per_channel - i) / orders_per_channel, hours=rng.randint(0, 12)
            )
            order = demo_order(rng, 1000 * (n + 1) + i, placed, currency, RATES[currency])
            payload = BUILDERS[source](order)
            if i == orders_per_channel - 1:
                _break_on_purpose(source, payload)
            [outcome] = _deliver(channel, payload, placed_at=placed)
            if outcome.order_id is None:
                report["rejected"] += 1
                continue
            report["orders"] += 1
            _fulfil(rng, outcome.order_id, placed, feeding[0])
    _seed_returns(rng, now)
    availability_refresh_all(now=now)
    return report


def _seed_stock(now: datetime) -> None:
    for code, kind, name in LOCATIONS:
        location_upsert(code=code, kind=kind, name=name)
    for sku, name, price in CATALOG:
        item_upsert(
            sku=sku, description=name, unit_cost=cents(price * Decimal("0.38")), cost_currency="USD"
        )
    item_upsert(
        sku="GIFTSET-TEE-MUG",
        description="Gift set: tee and mug",
        components={"TSHIRT-BLK-M": 1, "MUG-WHT": 1},
    )
    received = now - timedelta(days=40)
    stock_events_apply(
        events=[
            EventInput(
                f"demo-receipt-{code}-{sku}",
                "demo-wms",
                "receipt",
                sku,
                code,
                8 if sku == SHORT_SKU else units,
                received,
                reference="PO-DEMO-1",
            )
            for code, units in STOCK.items()
            for sku, _, _ in CATALOG
        ],
        now=received,
    )


def _seed_returns(rng: random.Random, now: datetime) -> None:
    """A handful of returns at every stage, from shipped orders of the last weeks."""
    if Return.objects.exists():
        return
    shipped = list(
        Order.objects.filter(
            status=Order.Status.SHIPPED, channel__source__in=["shopify", "magento", "canonical"]
        ).order_by("placed_at")[:8]
    )
    stages = [
        "requested",
        "authorized",
        "received",
        "inspected",
        "refunded",
        "closed",
        "closed",
        "rejected",
    ]
    for order, stage in zip(shipped, stages, strict=False):
        line = order.lines.order_by("pk").first()
        assert line is not None
        when = max(order.placed_at + timedelta(days=3), now - timedelta(days=25))
        location = (
            Reservation.objects.filter(order=order).values_list("location__code", flat=True).first()
            or "WH-NJ"
        )
        ret = return_request(
            order_id=order.pk,
            now=when,
            lines=[
                ReturnLineInput(
                    1, rng.choice(["too_small", "changed_mind", "damaged"]), line_id=line.pk
                )
            ],
        )
        if stage == "rejected":
            return_reject(return_id=ret.pk, note="worn and washed", now=when)
            continue
        steps = stages.index(stage)
        if steps >= 1:
            return_authorize(return_id=ret.pk, now=when)
        if steps >= 2:
            return_receive(return_id=ret.pk, location=location, now=when + timedelta(days=4))
        if steps >= 3:
            return_inspect(
                return_id=ret.pk,
                location=location,
                now=when + timedelta(days=5),
                lines=[Disposition(restock=1, line_id=line.pk)],
            )
        if steps >= 4:
            return_refund(return_id=ret.pk, now=when + timedelta(days=5))
        if steps >= 5:
            return_close(return_id=ret.pk, now=when + timedelta(days=6))


def _break_on_purpose(source: str, payload: dict[str, Any]) -> None:
    """One order per channel that a person must look at: a total that does not add up."""
    for key in ("total_price", "total", "grand_total"):
        if key in payload:
            payload[key] = str(Decimal(str(payload[key])) + Decimal("10.00"))
            return
    if source == "amazon":
        payload["OrderItems"][0]["SellerSKU"] = ""
    elif source == "pos":
        payload["line_items"][0]["quantity"] = "-1"


def _fulfil(rng: random.Random, order_id: int, placed: datetime, location: str) -> None:
    """Ship, part-ship or cancel like a real month would; an order still waiting for stock
    (a backorder) stays open, and ships from where its units are reserved."""
    order = Order.objects.prefetch_related("lines").get(pk=order_id)
    lines = list(order.lines.all())
    held = Reservation.objects.filter(order_id=order_id, status=Reservation.Status.ACTIVE)
    if (held.aggregate(n=Sum("quantity"))["n"] or 0) < sum(line.quantity for line in lines):
        return
    location = held.values_list("location__code", flat=True).first() or location
    roll = rng.random()
    shipped_at = placed if order.channel.source == "pos" else placed + timedelta(days=1)
    everything = [LineRequest(quantity=line.quantity, line_id=line.pk) for line in lines]
    if order.channel.source == "pos" or roll < 0.55:
        shipment_create(
            order_id=order_id,
            location=location,
            shipped_at=shipped_at,
            tracking="" if order.channel.source == "pos" else f"1Z{order_id:010d}",
            external_id=f"SHP-{order_id}",
            lines=everything,
            now=shipped_at,
        )
    elif roll < 0.7 and lines[0].quantity > 1:
        shipment_create(
            order_id=order_id,
            location=location,
            shipped_at=shipped_at,
            lines=[LineRequest(quantity=1, line_id=lines[0].pk)],
            now=shipped_at,
        )
    elif roll < 0.78:
        order_cancel(
            order_id=order_id, reason="customer changed their mind", now=placed + timedelta(hours=2)
        )
