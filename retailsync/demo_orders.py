"""The demo's orders as one model, `DemoOrder`, drawn at random from the catalog with their
discount, tax and shipping worked out to the cent once. Every channel's format
(`demo_payloads`) is written from it, so a Shopify and an Adobe Commerce order agree on their
amounts whatever their shape."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from retailsync.core.money import allocate

CENT = Decimal("0.01")

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


# Sales tax or VAT per currency, on lines and shipping alike.
RATES = {"USD": Decimal("0.08875"), "EUR": Decimal("0.19"), "GBP": Decimal("0.20")}
