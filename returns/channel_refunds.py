"""Refunds the channel made and reports (Shopify `refunds/create`, canonical JSON).

The money is the channel's: what it reports is what was refunded, and a difference from our own
figures is an exception for finance, not a change. The goods follow the refund's lines:
- `return`: the units came back to the channel's location: a return receipt there, through the
  location mapping (`inventory.mappings`); an unmapped location waits in the exception queue;
- `cancel`: the units never left: the order line is cancelled, which releases what it held;
- `legacy_restock`: whichever of the two the line's state says (shipped units come back, the
  rest is cancelled);
- no restock: the return records the refund, stock does not move.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from inventory.mappings import Restock, channel_restock
from orders.models import Order, OrderLine
from orders.models import TaxLine as OrderTaxLine
from orders.services import LineRequest, order_cancel
from retailsync.core.errors import BusinessRuleViolation
from retailsync.core.services import exception_raise

from .models import Return, ReturnLine, ReturnReceipt
from .quote import ZERO, _share, refund_quote
from .rules import REFUND_BY_CHANNEL
from .services.refund import refund_record
from .services.request import LineInput, return_new, return_request
from .services.transitions import timeline_note

S = Return.Status


@dataclass(frozen=True, slots=True)
class LineRestock:
    """A refunded line's units back on the channel's shelf, at its location `location_id`."""

    line_external_id: str
    quantity: int
    restock_type: str  # return, cancel or legacy_restock
    location_id: str


@dataclass(frozen=True, slots=True)
class ChannelRefund:
    external_id: str
    order_external_id: str
    amount: Decimal
    lines: list[tuple[str, int]]  # (order line external id, quantity)
    restock: bool
    psp_refund_id: str
    note: str = ""
    restocks: tuple[LineRestock, ...] = ()


@dataclass(frozen=True, slots=True)
class _Goods:
    """What the refund's lines mean for the goods, per order line id."""

    returned: dict[int, int]  # on the return (came back, or refunded without restock)
    restocked: dict[int, tuple[int, str]]  # of those, back on the shelf: (units, location id)
    cancelled: dict[int, int]  # never left: the order line is cancelled


def _goods(
    refund: ChannelRefund, wanted: Mapping[int, int], by_external: Mapping[str, OrderLine]
) -> _Goods:
    returned = dict(wanted)
    restocked: dict[int, tuple[int, str]] = {}
    cancelled: dict[int, int] = {}
    for r in refund.restocks:
        line = by_external[r.line_external_id]
        back = (
            min(r.quantity, line.quantity_shipped - line.quantity_returned)
            if r.restock_type == "legacy_restock"
            else (r.quantity if r.restock_type == "return" else 0)
        )
        if r.quantity > back:
            cancelled[line.pk] = cancelled.get(line.pk, 0) + r.quantity - back
            returned[line.pk] -= r.quantity - back
        if back:
            units, _ = restocked.get(line.pk, (0, r.location_id))
            restocked[line.pk] = (units + back, r.location_id)
    return _Goods({k: q for k, q in returned.items() if q > 0}, restocked, cancelled)


def channel_refund_record(
    *, channel_code: str, refund: ChannelRefund, now: datetime | None = None
) -> tuple[Return, bool]:
    """Link a refund the channel made to its return, or open one for it; once per refund id.

    Returns (the return, whether this refund was new to us).
    """
    now = now or timezone.now()
    existing = Return.objects.filter(
        channel__code=channel_code, external_id=refund.external_id
    ).first()
    if existing is not None:
        return existing, False
    order = (
        Order.objects.select_related("channel")
        .filter(channel__code=channel_code, external_id=refund.order_external_id)
        .first()
    )
    if order is None:
        raise BusinessRuleViolation(
            f"order {refund.order_external_id} is not known", field="order_id"
        )
    by_external = {line.external_id: line for line in order.lines.all()}
    wanted = {by_external[e].pk: q for e, q in refund.lines if e in by_external}
    if len(wanted) != len(refund.lines) or any(
        r.line_external_id not in by_external for r in refund.restocks
    ):
        raise BusinessRuleViolation("a refunded line is not on the order", field="lines")
    goods = _goods(refund, wanted, by_external)
    with transaction.atomic():
        cancelled = _cancel(order, goods.cancelled, channel_code, refund, now)
        ret = _return_for(order, goods.returned, refund, now)
        _restock(ret, order, goods.restocked, refund, now)
        ours = refund_quote(ret).total + sum(
            (_cancelled_share(order, line, q) for line, q in cancelled), ZERO
        )
        refund_record(
            ret,
            REFUND_BY_CHANNEL,
            None,
            now=now,
            provisional=False,
            psp_refund_id=refund.psp_refund_id,
            amount_override=refund.amount,
        )
        if abs(ours - refund.amount) > Decimal("0.01"):
            exception_raise(
                kind="refund_mismatch",
                reason=f"{channel_code} refunded {refund.amount} on order "
                f"{refund.order_external_id}; the order's own figures give {ours}",
                details={"return_id": ret.pk, "channel_amount": refund.amount, "ours": ours},
                object_type="return",
                object_id=ret.pk,
                object_label=f"RMA-{ret.pk}",
                now=now,
            )
    return ret, True


def _return_for(
    order: Order, returned: Mapping[int, int], refund: ChannelRefund, now: datetime
) -> Return:
    """The open return for exactly these goods, or a new one (with no lines when the refund
    brings nothing back: units cancelled before they shipped, or money alone)."""
    ret = (
        Return.objects.select_for_update()
        .filter(
            order=order,
            status__in=[S.REQUESTED, S.AUTHORIZED, S.RECEIVED, S.INSPECTED],
            external_id="",
        )
        .order_by("pk")
        .first()
    )
    if ret is not None and {x.order_line_id: x.quantity for x in ret.lines.all()} != returned:
        ret = None  # an open return for other goods: this refund is another one
    if ret is None and returned:
        ret = return_request(
            order_id=order.pk,
            now=now,
            external_id=refund.external_id,
            lines=[
                LineInput(quantity=q, line_id=pk, reason="channel_refund")
                for pk, q in returned.items()
            ],
        )
    elif ret is None:
        ret = return_new(
            order=order,
            refund_method=Return.Method.ORIGINAL,
            external_id=refund.external_id,
            actor=None,
            now=now,
        )
    ret.external_id = refund.external_id
    ret.save(update_fields=["external_id"])
    return ret


def _cancel(
    order: Order,
    cancelled: Mapping[int, int],
    channel_code: str,
    refund: ChannelRefund,
    now: datetime,
) -> list[tuple[OrderLine, int]]:
    """Cancel what the refund restocked before it shipped (what is still open of it: the
    channel may have cancelled the order already); the order's reservations follow."""
    if not cancelled:
        return []
    lines = OrderLine.objects.in_bulk(list(cancelled))
    take = {pk: min(q, lines[pk].quantity_open) for pk, q in cancelled.items()}
    if any(take.values()):
        order_cancel(
            order_id=order.pk,
            lines=[LineRequest(quantity=q, line_id=pk) for pk, q in take.items() if q],
            reason=f"refunded by {channel_code} before it shipped (refund {refund.external_id})",
            now=now,
        )
    return [(lines[pk], q) for pk, q in cancelled.items()]


def _restock(
    ret: Return,
    order: Order,
    restocked: Mapping[int, tuple[int, str]],
    refund: ChannelRefund,
    now: datetime,
) -> None:
    """Units the channel put back on its shelves go back to our stock where it says, a return
    receipt per line and location; the return's lines say they came back and were restocked."""
    by_location: dict[str, list[tuple[ReturnLine, Restock]]] = {}
    received: list[dict[str, object]] = []
    lines = {x.order_line_id: x for x in ret.lines.select_related("order_line")}
    for pk, (units, location_id) in restocked.items():
        line = lines[pk]
        units = min(units, line.quantity - line.received)  # what we received already moved
        if units <= 0:
            continue
        restock = Restock(
            event_id=f"{order.channel.code}-refund-{refund.external_id}-line-{pk}",
            sku=line.order_line.sku,
            quantity=units,
            reference=f"RMA-{ret.pk}",
        )
        by_location.setdefault(location_id, []).append((line, restock))
        line.received += units
        line.restocked += units
        line.save(update_fields=["received", "restocked"])
        received.append({"line_id": line.pk, "sku": line.order_line.sku, "quantity": units})
    if not received:
        return
    moved = {}
    for location_id, parcel in by_location.items():
        place = moved[location_id] = channel_restock(
            channel=order.channel,
            external_id=location_id,
            restocks=[restock for _, restock in parcel],
            source="returns",
            what=f"refund {refund.external_id} (RMA-{ret.pk})",
            object_type="return",
            object_id=ret.pk,
            now=now,
        )
        if place is not None:  # one waiting for its mapping has no place of ours yet
            ReturnReceipt.objects.bulk_create(
                ReturnReceipt(
                    line=line, location=place, quantity=r.quantity, decided=r.quantity, at=now
                )
                for line, r in parcel
            )
    timeline_note(
        ret,
        None,
        note="restocked by the channel",
        now=now,
        details={
            "received": received,
            "locations": {k: (v.code if v else None) for k, v in moved.items()},
        },
    )


def _cancelled_share(order: Order, line: OrderLine, quantity: int) -> Decimal:
    """What `quantity` units of a line cost the customer, tax included: our figure for units
    refunded because they were cancelled (as refund_quote gives it for returned ones)."""
    paid = line.unit_price * line.quantity - line.discount
    goods = _share(paid, quantity, line.quantity, order.currency)
    if order.prices_include_tax:
        return goods
    taxes = OrderTaxLine.objects.filter(line=line).values_list("amount", flat=True)
    return goods + sum((_share(t, quantity, line.quantity, order.currency) for t in taxes), ZERO)
