"""Refunds as channels report them: Shopify `refunds/create` and canonical JSON, to plain data.

Shopify: the top-level `id` is the refund's, `order_id` the order's; the money actually returned
is the sum of `transactions` whose status is success (formats.md §1); `subtotal` and `total_tax`
on refund lines are JSON numbers, read as Decimal, never float. A line's `restock_type` and
`location_id` say whether and where its units went back on the shelf (`return`: they came back;
`cancel`: they never left; `legacy_restock`: whichever the line's state says).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from orders.adapters.base import Reader
from returns.channel_refunds import ChannelRefund, LineRestock

# `restock_type` of a refund line (formats.md §1); the older payloads only had the refund's
# `restock` flag, which restocked every line the way `legacy_restock` does.
RESTOCK_TYPES = ("no_restock", "return", "cancel", "legacy_restock")


def shopify(payload: Any) -> ChannelRefund:
    r = Reader()
    lines, restocks = [], []
    legacy = isinstance(payload, Mapping) and payload.get("restock") is True
    for i, x in enumerate(r.list(payload, "refund_line_items", "refund_line_items")):
        path = f"refund_line_items[{i}]"
        line = (
            r.str(x, "line_item_id", f"{path}.line_item_id"),
            r.quantity(x, "quantity", f"{path}.quantity"),
        )
        lines.append(line)
        kind = r.str(x, "restock_type", f"{path}.restock_type", required=False) or (
            "legacy_restock" if legacy else "no_restock"
        )
        if kind not in RESTOCK_TYPES:
            r.fail(f"{path}.restock_type", f"must be one of {', '.join(RESTOCK_TYPES)}")
        elif kind != "no_restock":
            location = r.str(x, "location_id", f"{path}.location_id", required=False)
            restocks.append(LineRestock(*line, kind, location))
    amount, reference = Decimal(0), ""
    for i, t in enumerate(r.list(payload, "transactions", "transactions", required=False)):
        if isinstance(t, Mapping) and t.get("status") == "success" and t.get("kind") == "refund":
            amount += r.amount(t, "amount", f"transactions[{i}].amount")
            reference = reference or r.str(t, "id", f"transactions[{i}].id", required=False)
    refund = ChannelRefund(
        external_id=r.str(payload, "id", "id"),
        order_external_id=r.str(payload, "order_id", "order_id"),
        amount=amount,
        lines=lines,
        restock=bool(payload.get("restock")) if isinstance(payload, Mapping) else False,
        psp_refund_id=reference,
        note=r.str(payload, "note", "note", required=False),
        restocks=tuple(restocks),
    )
    r.finish()
    return refund


def canonical(payload: Any) -> ChannelRefund:
    r = Reader()
    refund = ChannelRefund(
        external_id=r.str(payload, "id", "id"),
        order_external_id=r.str(payload, "order_id", "order_id"),
        amount=r.amount(payload, "amount", "amount"),
        lines=[
            (
                r.str(x, "line_id", f"lines[{i}].line_id"),
                r.quantity(x, "quantity", f"lines[{i}].quantity"),
            )
            for i, x in enumerate(r.list(payload, "lines", "lines"))
        ],
        restock=bool(payload.get("restock")) if isinstance(payload, Mapping) else False,
        psp_refund_id=r.str(payload, "psp_refund_id", "psp_refund_id", required=False),
    )
    r.finish()
    return refund


PARSERS = {"shopify": shopify, "canonical": canonical}
