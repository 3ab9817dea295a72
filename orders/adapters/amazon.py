"""Amazon SP-API Orders v0 (`getOrder` plus `getOrderItems`) to a canonical order.

The body is `{"Order": {...}, "OrderItems": [...]}`, either part possibly still wrapped in the
API's `{"payload": ...}`. Amazon prices an item for its whole quantity and puts every charge
(tax, promotion, shipping, COD fee, gift wrap) on the item, so one item can yield a line, a
shipping line and fees.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Context, Decimal
from typing import Any

from retailsync.core.money import AMOUNT_PLACES

from .base import (
    ZERO,
    CanonicalOrder,
    Deliveries,
    DiscountAllocation,
    Fee,
    Line,
    Payment,
    Reader,
    ShippingLine,
    TaxLine,
    payment_state,
)
from .personal import leftovers, mask_email

# `OrderStatus` while payment is not yet authorized (formats.md §2).
UNPAID = frozenset({"Pending"})

MAPPED = {
    "AmazonOrderId",
    "SellerOrderId",
    "PurchaseDate",
    "LastUpdateDate",
    "OrderStatus",
    "OrderTotal",
    "PaymentMethod",
    "PaymentExecutionDetail",
    "FulfillmentChannel",
}
# Personal data the shared list does not name (older payloads; Turkish business invoices).
PRIVATE = {"BuyerEmail", "BuyerName", "BuyerTaxInformation"}
ITEM_MAPPED = {
    "SellerSKU",
    "QuantityOrdered",
    "OrderItemId",
    "Title",
    "ItemTax",
    "PromotionDiscount",
    "PromotionDiscountTax",
    "ShippingPrice",
    "ShippingTax",
    "ShippingDiscount",
    "ShippingDiscountTax",
    "CODFee",
    "CODFeeDiscount",
    "GiftWrapPrice",
    "GiftWrapTax",
}  # ItemPrice stays in line metadata: it is the exact price of the whole quantity.

# Marketplace -> (currency, prices include tax). North America quotes prices before tax; the
# EU, UK and Japan quote them with VAT or consumption tax in.
MARKETPLACES: dict[str, tuple[str, bool]] = {
    "ATVPDKIKX0DER": ("USD", False),  # US
    "A2EUQ1WTGCTBG2": ("CAD", False),  # CA
    "A1AM78C64UM0Y8": ("MXN", False),  # MX
    "A1F83G8C2ARO7P": ("GBP", True),  # UK
    "A1PA6795UKMFR9": ("EUR", True),  # DE
    "A13V1IB3VIYZZH": ("EUR", True),  # FR
    "APJ6JRA9NG5V4": ("EUR", True),  # IT
    "A1RKKUPIHCS9HS": ("EUR", True),  # ES
    "A1805IZSGTT6HS": ("EUR", True),  # NL
    "AMEN7PMS3EDWL": ("EUR", True),  # BE
    "A28R8C7NBKEWEA": ("EUR", True),  # IE
    "A2NODRKZP88ZB9": ("SEK", True),  # SE
    "A1C3SOZRARQ6R3": ("PLN", True),  # PL
    "A1VC38T7YXB528": ("JPY", True),  # JP
}
TAX_EXCLUSIVE = {"ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8"}
FACILITATOR = "MarketplaceFacilitator"
SUB_PAYMENT_KIND = {"GC": "gift_card", "PointsAccount": "store_credit"}
# Enough digits that ItemPrice / QuantityOrdered, multiplied back, rounds to ItemPrice at any
# precision we store or display (see `_unit_price`).
DIVISION = Context(prec=28)


def parse(payload: Any, headers: Mapping[str, str]) -> CanonicalOrder:
    r = Reader()
    body = _unwrap(payload)
    if not isinstance(body, Mapping):
        r.fail("", "an order must be a JSON object")
        r.finish()
    order_data = _unwrap(body.get("Order"))
    if not isinstance(order_data, Mapping):
        r.fail("Order", "must be an object" if order_data is not None else "is required")
        order_data = {}
    order_id = r.str(order_data, "AmazonOrderId", "Order.AmazonOrderId")
    items = _items(r, body.get("OrderItems"), order_id)
    marketplace = r.str(order_data, "MarketplaceId", "Order.MarketplaceId", required=False)
    currency = _currency(r, order_data, items, marketplace)
    total = None  # Pending orders have none yet
    if order_data.get("OrderTotal"):
        total = _money(r, order_data, "OrderTotal", "Order.OrderTotal", currency)
    lines, shipping_lines, fees = [], [], []
    ship_code = r.str(order_data, "ShipServiceLevel", "Order.ShipServiceLevel", required=False)
    for i, item in enumerate(items):
        line, shipping, item_fees = _item(r, item, f"OrderItems[{i}]", currency)
        lines.append(line)
        if shipping:
            shipping.code = ship_code
            shipping_lines.append(shipping)
        fees += item_fees
    status = r.str(order_data, "OrderStatus", "Order.OrderStatus")
    by_amazon = order_data.get("FulfillmentChannel") == "AFN"
    placed_at = r.datetime(order_data, "PurchaseDate", "Order.PurchaseDate")
    order = CanonicalOrder(
        external_id=order_id,
        order_number=r.str(order_data, "SellerOrderId", "Order.SellerOrderId", required=False)
        or order_id,
        currency=currency,
        placed_at=placed_at,  # type: ignore[arg-type]  # None only when r.finish() raises
        source_updated_at=r.datetime(order_data, "LastUpdateDate", "Order.LastUpdateDate"),
        lines=lines,
        shipping_lines=shipping_lines,
        fees=fees,
        channel_total=total,
        channel_status=status,
        cancelled=status == "Canceled",
        fulfilment_location="AMAZON-FBA" if by_amazon else "",
        metadata=leftovers(order_data, MAPPED | PRIVATE),
    )
    order.prices_include_tax = _prices_include_tax(order, marketplace)
    order.payments = _payments(r, order_data, order, currency)
    order.customer_email, order.customer_ref = mask_email(_email(order_data))
    order.payment_state = payment_state(order.channel_status, UNPAID)
    r.finish()
    return order


def _email(order: Mapping[str, Any]) -> str:
    """Amazon's anonymised relay address, in BuyerInfo (older payloads: on the order)."""
    buyer = order.get("BuyerInfo")
    email = buyer.get("BuyerEmail") if isinstance(buyer, Mapping) else None
    email = email or order.get("BuyerEmail")
    return email if isinstance(email, str) else ""


def _unwrap(value: Any) -> Any:
    """`{"payload": X}` as the API returns it, or X itself."""
    if isinstance(value, Mapping) and isinstance(value.get("payload"), Mapping | list):
        return value["payload"]
    return value


def _items(r: Reader, raw: Any, order_id: str) -> list[Any]:
    """A bare item list, or getOrderItems' `{AmazonOrderId, OrderItems, NextToken}`."""
    listing = _unwrap(raw)
    if isinstance(listing, Mapping):
        other = listing.get("AmazonOrderId")
        if other is not None and order_id and other != order_id:
            r.fail("OrderItems.AmazonOrderId", f"is {other}, not this order's {order_id}")
        if listing.get("NextToken"):
            # A page of items would make a wrong order that still looks complete.
            r.fail("OrderItems.NextToken", "more items to fetch: send every page of items")
        return r.list(listing, "OrderItems", "OrderItems")
    if isinstance(listing, list):
        return listing
    r.fail("OrderItems", "must be a list" if listing is not None else "is required")
    return []


def _currency(r: Reader, order: Mapping[str, Any], items: list[Any], marketplace: str) -> str:
    """OrderTotal names it, else the first priced item, else the marketplace (Pending orders)."""
    candidates = [order.get("OrderTotal")] + [
        item.get("ItemPrice") for item in items if isinstance(item, Mapping)
    ]
    for money in candidates:
        code = money.get("CurrencyCode") if isinstance(money, Mapping) else None
        if isinstance(code, str) and code:
            return code.upper()
    if marketplace in MARKETPLACES:
        return MARKETPLACES[marketplace][0]
    r.fail(
        "Order.OrderTotal.CurrencyCode",
        "is required: no amount or marketplace names the order's currency",
    )
    return ""


def _money(
    r: Reader, data: Any, key: str, path: str, currency: str, *, required: bool = False
) -> Decimal:
    """Amazon's `Money{CurrencyCode, Amount}`; an absent charge is zero."""
    money = r.obj(data, key, path, required=required)
    if not money:
        return ZERO
    code = money.get("CurrencyCode")
    if isinstance(code, str) and currency and code.upper() != currency:
        r.fail(f"{path}.CurrencyCode", f"is {code}, but the order is in {currency}")
    return r.amount(money, "Amount", f"{path}.Amount")


def _unit_price(item_price: Decimal, quantity: int) -> Decimal:
    """ItemPrice is for the whole quantity; the canonical line wants one unit.

    Exact whenever the division terminates (19.98 / 2 = 9.99, 0.01 / 16 = 0.000625). When it
    does not (10.00 / 3), rounding to 4 places would lose up to quantity x 0.00005 and to cents
    up to a cent per unit, so the quotient keeps 28 significant digits: unit x quantity then
    differs from ItemPrice only around the 28th digit and rounds back to it exactly at any
    precision we store or show. ItemPrice itself stays in the line's metadata, exact.
    """
    if quantity == 0:
        return ZERO  # a cancelled item; nothing to divide, ItemPrice is in the metadata
    return DIVISION.divide(item_price, Decimal(quantity))


def _item(
    r: Reader, item: Any, path: str, currency: str
) -> tuple[Line, ShippingLine | None, list[Fee]]:
    def money(key: str, data: Any = item, where: str = path) -> Decimal:
        return _money(r, data, key, f"{where}.{key}", currency)

    quantity = r.quantity(item, "QuantityOrdered", f"{path}.QuantityOrdered")
    r.str(item, "ASIN", f"{path}.ASIN")
    collection = item.get("TaxCollection") if isinstance(item, Mapping) else None
    by_channel = isinstance(collection, Mapping) and collection.get("Model") == FACILITATOR
    promotion_ids = item.get("PromotionIds") if isinstance(item, Mapping) else None
    promotion_ids = [str(p) for p in promotion_ids] if isinstance(promotion_ids, list) else []

    discount = money("PromotionDiscount")
    # PromotionDiscountTax is the tax on the discount: what the buyer paid is the difference.
    item_tax, discount_tax = money("ItemTax"), money("PromotionDiscountTax")
    line = Line(
        sku=r.str(item, "SellerSKU", f"{path}.SellerSKU", required=False),
        quantity=quantity,
        unit_price=_unit_price(money("ItemPrice"), quantity),
        external_id=r.str(item, "OrderItemId", f"{path}.OrderItemId"),
        name=r.str(item, "Title", f"{path}.Title", required=False),
        discounts=[
            DiscountAllocation(amount=discount, code=",".join(promotion_ids), title="Promotion")
        ]
        if discount
        else [],
        tax_lines=_tax(item_tax - discount_tax, "Tax", by_channel),
        metadata=leftovers(item, ITEM_MAPPED) if isinstance(item, Mapping) else {},
    )

    ship, ship_tax = money("ShippingPrice"), money("ShippingTax")
    ship_discount, ship_discount_tax = money("ShippingDiscount"), money("ShippingDiscountTax")
    shipping = None
    if ship or ship_tax or ship_discount or ship_discount_tax:
        shipping = ShippingLine(
            amount=ship,
            title="Shipping",
            discounts=[DiscountAllocation(amount=ship_discount, title="Shipping discount")]
            if ship_discount
            else [],
            tax_lines=_tax(ship_tax - ship_discount_tax, "Shipping tax", by_channel),
        )

    fees = []
    cod, cod_discount = money("CODFee"), money("CODFeeDiscount")
    if cod or cod_discount:
        fees.append(Fee(kind="cod", amount=cod - cod_discount, title="Cash on delivery fee"))
    # v0 moved gift wrap into the item's (restricted) BuyerInfo; older payloads have it on the
    # item itself.
    wrap_source, wrap_path = item, path
    buyer = item.get("BuyerInfo") if isinstance(item, Mapping) else None
    if isinstance(buyer, Mapping) and "GiftWrapPrice" not in item:
        wrap_source, wrap_path = buyer, f"{path}.BuyerInfo"
    wrap = money("GiftWrapPrice", wrap_source, wrap_path)
    wrap_tax = money("GiftWrapTax", wrap_source, wrap_path)
    if wrap or wrap_tax:
        fees.append(
            Fee(
                kind="gift_wrap",
                amount=wrap,
                title="Gift wrap",
                tax_lines=_tax(wrap_tax, "Gift wrap tax", by_channel),
            )
        )
    return line, shipping, fees


def _tax(amount: Decimal, title: str, by_channel: bool) -> list[TaxLine]:
    return [TaxLine(amount=amount, title=title, collected_by_channel=by_channel)] if amount else []


def _prices_include_tax(order: CanonicalOrder, marketplace: str) -> bool:
    """North America is always before tax. Elsewhere OrderTotal settles it when only one reading
    adds up; otherwise (no total yet, no tax, or neither adds up) the marketplace decides."""
    if marketplace in TAX_EXCLUSIVE:
        return False
    if order.channel_total is not None and order.tax:
        before_tax = order.subtotal - order.discount + order.shipping + order.fees_total
        total = order.channel_total.quantize(AMOUNT_PLACES)
        if total == (before_tax + order.tax).quantize(AMOUNT_PLACES):
            return False
        if total == before_tax.quantize(AMOUNT_PLACES):
            return True
    return MARKETPLACES.get(marketplace, ("", False))[1]


def _payments(
    r: Reader, data: Mapping[str, Any], order: CanonicalOrder, currency: str
) -> list[Payment]:
    """Amazon collects and pays out itself: one payment for the order, unless a COD order lists
    its sub-payments (cash, gift card, points) in PaymentExecutionDetail."""
    method = r.str(data, "PaymentMethod", "Order.PaymentMethod", required=False)
    details = r.list(data, "PaymentExecutionDetail", "Order.PaymentExecutionDetail", required=False)
    if not details:
        return [
            Payment(
                gateway="amazon", reference=order.external_id, amount=order.total, method=method
            )
        ]
    payments = []
    for i, detail in enumerate(details):
        path = f"Order.PaymentExecutionDetail[{i}]"
        sub_method = r.str(detail, "PaymentMethod", f"{path}.PaymentMethod")
        payments.append(
            Payment(
                gateway="amazon",
                reference=order.external_id,
                amount=_money(r, detail, "Payment", f"{path}.Payment", currency, required=True),
                kind=SUB_PAYMENT_KIND.get(sub_method, "sale"),
                method=sub_method,
            )
        )
    return payments


DELIVERIES = Deliveries()
