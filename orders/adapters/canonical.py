"""Canonical order JSON (API.md "Canonical order JSON"): for channels with no adapter of their own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import (
    CanonicalOrder,
    Deliveries,
    DiscountAllocation,
    Line,
    Payment,
    Reader,
    ShippingLine,
    TaxLine,
    payment_state,
)
from .personal import leftovers, mask_email

# Our own format carries what any sender calls an unpaid order: every name above.
UNPAID = frozenset({"pending", "Pending", "authorized", "on-hold", "pending_payment"})

MAPPED = {
    "external_id",
    "order_number",
    "currency",
    "placed_at",
    "updated_at",
    "prices_include_tax",
    "lines",
    "shipping",
    "payments",
    "total",
    "status",
    "fulfilment_location",
    "customer_email",
    "fees",
}


def _tax_lines(r: Reader, item: Mapping[str, Any], path: str) -> list[TaxLine]:
    detailed = r.list(item, "tax_lines", f"{path}.tax_lines", required=False)
    if detailed:
        return [
            TaxLine(
                amount=r.amount(t, "amount", f"{path}.tax_lines[{i}].amount"),
                title=r.str(t, "title", f"{path}.tax_lines[{i}].title", required=False),
                rate=r.amount(t, "rate", f"{path}.tax_lines[{i}].rate", required=False)
                if isinstance(t, Mapping) and t.get("rate") is not None
                else None,
                jurisdiction=r.str(
                    t, "jurisdiction", f"{path}.tax_lines[{i}].jurisdiction", required=False
                ),
                provider_reference=r.str(
                    t,
                    "provider_reference",
                    f"{path}.tax_lines[{i}].provider_reference",
                    required=False,
                ),
            )
            for i, t in enumerate(detailed)
        ]
    tax = r.amount(item, "tax", f"{path}.tax", required=False)
    return [TaxLine(amount=tax, title="Tax")] if tax else []


def _discounts(r: Reader, item: Mapping[str, Any], path: str) -> list[DiscountAllocation]:
    discount = r.amount(item, "discount", f"{path}.discount", required=False)
    return [DiscountAllocation(amount=discount)] if discount else []


def parse(payload: Any, headers: Mapping[str, str]) -> CanonicalOrder:
    r = Reader()
    if not isinstance(payload, Mapping):
        r.fail("", "an order must be a JSON object")
        r.finish()
    lines = []
    for i, item in enumerate(r.list(payload, "lines", "lines")):
        path = f"lines[{i}]"
        lines.append(
            Line(
                sku=r.str(item, "sku", f"{path}.sku", required=False),
                quantity=r.quantity(item, "quantity", f"{path}.quantity"),
                unit_price=r.amount(item, "unit_price", f"{path}.unit_price"),
                external_id=r.str(item, "id", f"{path}.id", required=False) or str(i + 1),
                name=r.str(item, "name", f"{path}.name", required=False),
                discounts=_discounts(r, item, path),
                tax_lines=_tax_lines(r, item, path),
            )
        )
    shipping_lines = []
    shipping = r.obj(payload, "shipping", "shipping", required=False)
    if shipping:
        shipping_lines.append(
            ShippingLine(
                amount=r.amount(shipping, "amount", "shipping.amount"),
                title=r.str(shipping, "title", "shipping.title", required=False),
                discounts=_discounts(r, shipping, "shipping"),
                tax_lines=_tax_lines(r, shipping, "shipping"),
            )
        )
    payments = [
        Payment(
            gateway=r.str(p, "gateway", f"payments[{i}].gateway"),
            reference=r.str(p, "reference", f"payments[{i}].reference", required=False),
            amount=r.amount(p, "amount", f"payments[{i}].amount"),
            kind=r.str(p, "kind", f"payments[{i}].kind", required=False) or "sale",
            method=r.str(p, "method", f"payments[{i}].method", required=False),
        )
        for i, p in enumerate(r.list(payload, "payments", "payments", required=False))
    ]
    include = payload.get("prices_include_tax", False)
    if not isinstance(include, bool):
        r.fail("prices_include_tax", "must be true or false")
        include = False
    order = CanonicalOrder(
        external_id=r.str(payload, "external_id", "external_id"),
        order_number=r.str(payload, "order_number", "order_number", required=False),
        currency=r.str(payload, "currency", "currency").upper(),
        placed_at=r.datetime(payload, "placed_at", "placed_at"),  # type: ignore[arg-type]
        source_updated_at=r.datetime(payload, "updated_at", "updated_at", required=False),
        prices_include_tax=include,
        lines=lines,
        shipping_lines=shipping_lines,
        payments=payments,
        channel_total=r.amount(payload, "total", "total", required=False, default=None),  # type: ignore[arg-type]
        channel_status=r.str(payload, "status", "status", required=False),
        fulfilment_location=r.str(
            payload, "fulfilment_location", "fulfilment_location", required=False
        ),
        metadata=leftovers(payload, MAPPED),
    )
    order.cancelled = order.channel_status == "cancelled"
    order.customer_email, order.customer_ref = mask_email(
        r.str(payload, "customer_email", "customer_email", required=False)
    )
    order.payment_state = payment_state(order.channel_status, UNPAID)
    r.finish()
    return order


DELIVERIES = Deliveries()
