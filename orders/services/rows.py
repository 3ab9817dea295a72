"""The rows of a new order and everything it carries, as both write paths store them: the
set-based insert (one statement per table for many orders: batches, updates' details, races)
here, and the one-statement insert of a single new order (`insert_one`) from the same rows.

Each `*_FIELDS` tuple is a table's field order; the row builders give values in that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from retailsync.core.db import insert_new, insert_returning
from retailsync.core.models import Channel, InboundMessage

from ..adapters.base import CanonicalOrder
from ..adapters.base import TaxLine as CanonicalTaxLine
from ..models import DiscountAllocation, Order, OrderFee, OrderLine, Payment, ShippingLine, TaxLine


def header_values(c: CanonicalOrder) -> dict[str, Any]:
    return {
        "order_number": c.order_number[:64],
        "currency": c.currency,
        "channel_status": c.channel_status[:40],
        "placed_at": c.placed_at,
        "source_updated_at": c.source_updated_at,
        "prices_include_tax": c.prices_include_tax,
        "subtotal": c.subtotal,
        "discount": c.discount,
        "shipping": c.shipping,
        "fees": c.fees_total,
        "tax": c.tax,
        "total": c.total,
        "customer_email": c.customer_email[:200],
        "customer_ref": c.customer_ref[:32],
        "fulfilment_location": c.fulfilment_location[:64],
        "metadata": c.metadata,
        "payment_state": c.payment_state,
    }


def line_values(c: CanonicalOrder, position: int) -> dict[str, Any]:
    line = c.lines[position]
    return {
        "position": position,
        "external_id": line.external_id[:64],
        "sku": line.sku[:100],
        "name": line.name[:300],
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "discount": line.discount,
        "tax": line.tax,
        "total": c.line_total(line),
        "is_gift_card": line.is_gift_card,
        "metadata": line.metadata,
    }


@dataclass(slots=True)
class Prepared:
    """A payload adapted and validated: the canonical order, and the hash of what was sent."""

    index: int
    order: CanonicalOrder
    content_hash: str


@dataclass(frozen=True, slots=True)
class Saved:
    """A new order as written: its id, status and its lines' ids in position order."""

    order_id: int
    status: str
    line_ids: list[int]


ORDER_FIELDS = (
    "channel",
    "legal_entity",
    "external_id",
    "correlation_id",
    "created_at",
    "updated_at",
    "inbound_message",
    "cancelled_at",
    "status",
    "content_hash",
    "order_number",
    "currency",
    "channel_status",
    "placed_at",
    "source_updated_at",
    "prices_include_tax",
    "subtotal",
    "discount",
    "shipping",
    "fees",
    "tax",
    "total",
    "customer_email",
    "customer_ref",
    "fulfilment_location",
    "metadata",
    "payment_state",
)
LINE_FIELDS = (
    "order",
    "quantity_returned",
    "quantity_shipped",
    "quantity_cancelled",
    "position",
    "external_id",
    "sku",
    "name",
    "quantity",
    "unit_price",
    "discount",
    "tax",
    "total",
    "is_gift_card",
    "metadata",
)


def order_row(
    channel: Channel,
    p: Prepared,
    message: InboundMessage | None,
    correlation_id: str,
    now: datetime,
) -> tuple[Any, ...]:
    """An order's values in `ORDER_FIELDS` order."""
    return (
        channel.pk,
        channel.legal_entity_id,
        p.order.external_id,
        correlation_id,
        now,
        now,
        message.pk if message else None,
        now if p.order.cancelled else None,
        new_status(p.order),
        p.content_hash,
        *header_values(p.order).values(),
    )


def new_status(c: CanonicalOrder) -> str:
    return Order.Status.CANCELLED if c.cancelled else Order.Status.ACCEPTED


def line_rows(order_id: int | None, c: CanonicalOrder) -> list[tuple[Any, ...]]:
    """A new order's lines in `LINE_FIELDS` order, by position."""
    return [
        (
            order_id,
            0,  # returned
            0,  # shipped
            c.lines[pos].quantity if c.cancelled else 0,
            *line_values(c, pos).values(),
        )
        for pos in range(len(c.lines))
    ]


def orders_insert(
    *,
    channel: Channel,
    items: list[Prepared],
    message: InboundMessage | None,
    correlation_id: str,
    now: datetime,
) -> list[Saved | None]:
    """New orders with everything they carry, in one statement per table for the whole set;
    None for an order that exists already (its external id is taken)."""
    if not items:
        return []
    new_ids = insert_new(
        Order,
        ORDER_FIELDS,
        (order_row(channel, p, message, correlation_id, now) for p in items),
        unique=("channel", "external_id"),
        key="external_id",
    )
    items_all, items = items, [p for p in items if p.order.external_id in new_ids]
    order_ids = [new_ids[p.order.external_id] for p in items]
    line_ids = insert_returning(
        OrderLine,
        LINE_FIELDS,
        (
            row
            for order_id, p in zip(order_ids, items, strict=True)
            for row in line_rows(order_id, p.order)
        ),
    )
    saved = []
    taken = 0
    for order_id, p in zip(order_ids, items, strict=True):
        saved.append(
            Saved(order_id, new_status(p.order), line_ids[taken : taken + len(p.order.lines)])
        )
        taken += len(p.order.lines)
    details_insert(
        [(sv.order_id, p.order, sv.line_ids) for sv, p in zip(saved, items, strict=True)]
    )
    by_external = {p.order.external_id: sv for sv, p in zip(saved, items, strict=True)}
    return [by_external.get(p.order.external_id) for p in items_all]


SHIPPING_FIELDS = ("order", "title", "code", "amount", "discount", "tax")
FEE_FIELDS = ("order", "kind", "title", "amount", "tax")
TAX_FIELDS = (
    "order",
    "target",
    "line",
    "shipping_line",
    "fee",
    "title",
    "jurisdiction",
    "rate",
    "amount",
    "provider_reference",
    "collected_by_channel",
)
DISCOUNT_FIELDS = ("order", "line", "shipping_line", "code", "title", "amount")
PAYMENT_FIELDS = (
    "order",
    "gateway",
    "kind",
    "method",
    "reference",
    "currency",
    "amount",
    "authorized_amount",
    "captured_amount",
    "metadata",
)


def shipping_rows(o: int | None, c: CanonicalOrder) -> list[tuple[Any, ...]]:
    return [
        (o, sl.title[:200], sl.code[:100], sl.amount, sl.discount, sl.tax)
        for sl in c.shipping_lines
    ]


def fee_rows(o: int | None, c: CanonicalOrder) -> list[tuple[Any, ...]]:
    return [(o, f.kind[:32], f.title[:200], f.amount, f.tax) for f in c.fees]


def payment_rows(o: int | None, c: CanonicalOrder) -> list[tuple[Any, ...]]:
    return [
        (
            o,
            p.gateway[:100],
            p.kind[:32],
            p.method[:100],
            p.reference[:200],
            c.currency,
            p.amount,
            p.authorized_amount,
            p.captured_amount,
            p.metadata,
        )
        for p in c.payments
    ]


def tax_and_discount_rows(
    o: int | None,
    c: CanonicalOrder,
    line_ids: Sequence[int],
    ship_ids: Sequence[int],
    fee_ids: Sequence[int],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Tax lines and discount allocations (`TAX_FIELDS`, `DISCOUNT_FIELDS` order) pointing at
    the given ids of the order's lines, shipping lines and fees."""
    taxes: list[tuple[Any, ...]] = []
    discounts: list[tuple[Any, ...]] = []

    def tax(
        t: CanonicalTaxLine,
        target: str,
        line: int | None = None,
        ship: int | None = None,
        fee: int | None = None,
    ) -> tuple[Any, ...]:
        return (
            o,
            target,
            line,
            ship,
            fee,
            t.title[:200],
            t.jurisdiction[:200],
            t.rate,
            t.amount,
            t.provider_reference[:200],
            t.collected_by_channel,
        )

    for line_id, src in zip(line_ids, c.lines, strict=True):
        taxes += [tax(t, TaxLine.Target.LINE, line=line_id) for t in src.tax_lines]
        discounts += [
            (o, line_id, None, d.code[:200], d.title[:200], d.amount) for d in src.discounts
        ]
    for ship_id, src_ship in zip(ship_ids, c.shipping_lines, strict=True):
        taxes += [tax(t, TaxLine.Target.SHIPPING, ship=ship_id) for t in src_ship.tax_lines]
        discounts += [
            (o, None, ship_id, d.code[:200], d.title[:200], d.amount) for d in src_ship.discounts
        ]
    for fee_id, src_fee in zip(fee_ids, c.fees, strict=True):
        taxes += [tax(t, TaxLine.Target.FEE, fee=fee_id) for t in src_fee.tax_lines]
    return taxes, discounts


def details_insert(entries: Sequence[tuple[int, CanonicalOrder, list[int]]]) -> None:
    """Shipping, fees, tax lines, discount allocations and payments for saved orders and lines."""
    ship_ids = iter(
        insert_returning(
            ShippingLine,
            SHIPPING_FIELDS,
            (row for o, c, _ in entries for row in shipping_rows(o, c)),
        )
    )
    fee_ids = iter(
        insert_returning(
            OrderFee, FEE_FIELDS, (row for o, c, _ in entries for row in fee_rows(o, c))
        )
    )
    taxes: list[tuple[Any, ...]] = []
    discounts: list[tuple[Any, ...]] = []
    for o, c, line_ids in entries:
        more_taxes, more_discounts = tax_and_discount_rows(
            o,
            c,
            line_ids,
            [next(ship_ids) for _ in c.shipping_lines],
            [next(fee_ids) for _ in c.fees],
        )
        taxes += more_taxes
        discounts += more_discounts
    insert_returning(TaxLine, TAX_FIELDS, taxes)
    insert_returning(DiscountAllocation, DISCOUNT_FIELDS, discounts)
    insert_returning(
        Payment, PAYMENT_FIELDS, (row for o, c, _ in entries for row in payment_rows(o, c))
    )
