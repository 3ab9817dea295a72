"""Posting rules: each source event the journals take, what its legs are (see `legs`).

`RULES` names, per event, its payload, the rule, and the payload's field that identifies what it
is about (the shipment, batch, line or return): with the event's name, the key by which each
source is posted once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from orders.events import OrderShipped
from returns.events import ReturnClosed
from settlements.events import PayoutDeposited, SettlementBatchMatched, SettlementLineWrittenOff

from .legs import Leg, Posting, SourceRef, SqlSources
from .returns import return_postings
from .sales import sales_postings
from .settlement import batch_postings, deposit_postings, write_off_postings


@dataclass(frozen=True, slots=True)
class Rule:
    payload: type[Any]
    postings: Callable[[Sequence[Any]], list[Posting]]
    source_field: str


RULES: dict[str, Rule] = {
    "order.shipped": Rule(OrderShipped, sales_postings, "shipment_id"),
    "settlement.batch_matched": Rule(SettlementBatchMatched, batch_postings, "batch_id"),
    "settlement.line_written_off": Rule(SettlementLineWrittenOff, write_off_postings, "line_id"),
    "payout.deposited": Rule(PayoutDeposited, deposit_postings, "batch_id"),
    "return.closed": Rule(ReturnClosed, return_postings, "return_id"),
}

__all__ = ["RULES", "Leg", "Posting", "Rule", "SourceRef", "SqlSources"]
