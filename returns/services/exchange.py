"""Exchanges: a replacement becomes a new canonical order on the same channel, linked to the
return, priced like the line it replaces; the return's credit pays for it (returns/quote.py)."""

from __future__ import annotations

from datetime import datetime

from orders.services import orders_ingest
from retailsync.core.errors import BusinessRuleViolation, FieldError

from ..models import Return


def exchange_order_create(ret: Return, *, now: datetime) -> None:
    """The replacement order of the return's lines that have one, placed `now` (once; in the
    caller's transaction)."""
    lines = [line for line in ret.lines.select_related("order_line") if line.replacement_sku]
    if not lines or ret.exchange_order_id:
        return
    payload = {
        "external_id": f"RMA-{ret.pk}-EXCHANGE",
        "order_number": f"RMA-{ret.pk}-X",
        "currency": ret.currency,
        "placed_at": now.isoformat(),
        "fulfilment_location": ret.order.fulfilment_location,
        "lines": [
            {
                "sku": line.replacement_sku,
                "quantity": line.quantity,
                "unit_price": str(line.order_line.unit_price),
                "discount": "0",
                "tax": "0",
            }
            for line in lines
        ],
        "payments": [],
        "exchange_for_return": ret.pk,
    }
    # An exchange is our own order, written in our own format whatever the channel speaks.
    [outcome] = orders_ingest(
        channel=ret.channel, payloads=[payload], headers={}, source="canonical", now=now
    )
    if outcome.order_id is None:
        raise BusinessRuleViolation(
            [FieldError(f"exchange.{e.field}", e.message) for e in outcome.errors]
        )
    ret.exchange_order_id = outcome.order_id
    ret.save(update_fields=["exchange_order"])
