"""What settlements tells the journals: the payloads of its events (`retailsync.core.contracts`).

Amounts are Decimal in `currency`, signed from the merchant's side as the batch's lines are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from retailsync.core.contracts import contract


@dataclass(frozen=True, slots=True)
class KindTotal:
    """The batch's lines of one kind, added up (`kind` as `LineKind`)."""

    kind: str
    gross: Decimal
    fee: Decimal
    net: Decimal
    lines: int


@contract("settlement.batch_matched")
@dataclass(frozen=True, slots=True)
class SettlementBatchMatched:
    batch_id: int
    run_id: int
    provider: str
    key: str  # the payout or settlement id
    channel: str  # code, "" when the batch names none
    legal_entity: str  # code, ""
    currency: str
    payout_amount: Decimal
    net: Decimal
    variance: Decimal  # payout_amount − net
    deposit_date: date | None
    matched: int
    unmatched: int
    totals: tuple[KindTotal, ...]


@contract("settlement.line_written_off")
@dataclass(frozen=True, slots=True)
class SettlementLineWrittenOff:
    line_id: int
    batch_id: int
    provider: str
    legal_entity: str
    order_id: int | None
    kind: str
    currency: str
    amount: Decimal  # the line's net
    reason: str


@contract("payout.deposited")
@dataclass(frozen=True, slots=True)
class PayoutDeposited:
    batch_id: int
    provider: str
    key: str
    legal_entity: str
    currency: str
    amount: Decimal  # what the bank credited
    deposited_on: date
    bank_line_id: int
