"""Goods arriving: a parcel of a return received at any location (a store, for
buy-online-return-in-store), maybe one of several. Units that need inspection wait on quality
hold; the others go back to stock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from inventory.services import EventInput
from retailsync.core.contracts import contract_event
from retailsync.core.errors import BusinessRuleViolation
from retailsync.core.events import events_record

from ..events import ReceivedLine, ReturnReceived
from ..models import RefundPayment, Return, ReturnLine, ReturnReceipt
from ..rules import needs_inspection, policy_for
from .stock import location_of, stock_event, stock_follow
from .transitions import Actor, return_lines_locked, return_move, timeline_note


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    quantity: int
    line_id: int | None = None  # the order line's id, as a return shows it
    sku: str = ""


def return_line_for(
    ret: Return,
    lines: list[ReturnLine],
    line_id: int | None,
    sku: str,
    path: str,
    left: Callable[[ReturnLine], int],
) -> ReturnLine:
    """The return line an input means (by order line id or SKU): of several for the same
    goods, the first with units `left` to act on."""
    matches = [
        line
        for line in lines
        if (line.order_line_id == line_id if line_id is not None else line.order_line.sku == sku)
    ]
    if not matches:
        raise BusinessRuleViolation(
            f"is not a line of return {ret.pk}",
            field=f"{path}.{'line_id' if line_id is not None else 'sku'}",
        )
    return next((line for line in matches if left(line) > 0), matches[0])


def _expected(line: ReturnLine) -> int:
    return line.quantity - line.received


def return_receive(
    *,
    return_id: int,
    location: str,
    lines: Sequence[ReceiptLine] = (),
    actor: Actor = None,
    now: datetime | None = None,
) -> Return:
    """Receive a parcel (`lines`, or everything still expected). Each parcel is kept with its
    location, where inspection will find the units."""
    now = now or timezone.now()
    with transaction.atomic():
        ret, return_lines = return_lines_locked(return_id, "receive")
        place = location_of(location)
        parcel = (
            [
                (return_line_for(ret, return_lines, r.line_id, r.sku, f"lines[{i}]", _expected), r)
                for i, r in enumerate(lines)
            ]
            if lines
            else [(line, ReceiptLine(_expected(line))) for line in return_lines if _expected(line)]
        )
        policy = policy_for(ret.order)
        events: list[EventInput] = []
        arrived: list[ReceivedLine] = []
        receipts: list[ReturnReceipt] = []
        for i, (line, r) in enumerate(parcel):
            quantity = r.quantity
            if quantity <= 0 or quantity > _expected(line):
                raise BusinessRuleViolation(
                    f"{quantity} received but {_expected(line)} of "
                    f"{line.order_line.sku} are expected",
                    field=f"lines[{i}].quantity",
                )
            line.received += quantity
            base = f"rma-{ret.pk}-line-{line.pk}-rcv-{line.received}"
            sku = line.order_line.sku
            events.append(
                stock_event(ret, base, "return_receipt", sku, location, quantity, now=now)
            )
            inspect = needs_inspection(policy, line.reason)
            if inspect:
                events.append(
                    stock_event(
                        ret, f"{base}-hold", "quality_hold", sku, location, quantity, now=now
                    )
                )
            else:
                line.restocked += quantity
            line.save(update_fields=["received", "restocked"])
            receipts.append(
                ReturnReceipt(
                    line=line,
                    location=place,
                    quantity=quantity,
                    decided=0 if inspect else quantity,
                    at=now,
                )
            )
            arrived.append(ReceivedLine(line.pk, sku, quantity, location))
        if not arrived:
            raise BusinessRuleViolation("nothing is left to receive", field="lines")
        ReturnReceipt.objects.bulk_create(receipts)
        stock_follow(events, now=now)
        received = [asdict(r) for r in arrived]
        if ret.status == Return.Status.REFUNDED:
            # The goods of a provisional refund: the refund holds once all of them are here.
            timeline_note(
                ret, actor, note="goods received", now=now, details={"received": received}
            )
            if all(line.received == line.quantity for line in return_lines):
                ret.refund_provisional = False
                ret.refunds.filter(status=RefundPayment.Status.PROVISIONAL).update(
                    status=RefundPayment.Status.DONE
                )
                ret.save(update_fields=["refund_provisional"])
        else:
            return_move(
                ret, "receive", actor, now=now, details={"received": received, "location": location}
            )
        events_record(
            [
                contract_event(
                    ReturnReceived(ret.pk, ret.order_id, location, tuple(arrived)),
                    aggregate_type="return",
                    aggregate_id=ret.pk,
                )
            ],
            correlation_id=ret.correlation_id,
            now=now,
        )
    return ret
