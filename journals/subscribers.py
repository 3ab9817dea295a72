"""The journals' answers to the events below them: each source event posted as it is
dispatched (the run posts whatever these could not, see `services.run`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from orders.events import OrderShipped
from retailsync.core.contracts import Typed, subscribe_many_to
from returns.events import ReturnClosed
from settlements.events import PayoutDeposited, SettlementBatchMatched, SettlementLineWrittenOff

from .posting import RULES
from .services.apply import postings_apply
from .services.sales_bulk import shipments_post


def _post(name: str, events: Sequence[Typed[Any]]) -> None:
    postings_apply(RULES[name].postings(events), now=timezone.now())


@subscribe_many_to(OrderShipped)
def post_shipments(shipped: Sequence[Typed[OrderShipped]]) -> None:
    pairs = [(s.event.pk, s.payload.shipment_id) for s in shipped]
    shipments_post(pairs, now=timezone.now())


@subscribe_many_to(SettlementBatchMatched)
def post_settlements(matched: Sequence[Typed[SettlementBatchMatched]]) -> None:
    _post("settlement.batch_matched", matched)


@subscribe_many_to(SettlementLineWrittenOff)
def post_write_offs(written: Sequence[Typed[SettlementLineWrittenOff]]) -> None:
    _post("settlement.line_written_off", written)


@subscribe_many_to(PayoutDeposited)
def post_deposits(deposited: Sequence[Typed[PayoutDeposited]]) -> None:
    _post("payout.deposited", deposited)


@subscribe_many_to(ReturnClosed)
def post_returns(closed: Sequence[Typed[ReturnClosed]]) -> None:
    _post("return.closed", closed)
