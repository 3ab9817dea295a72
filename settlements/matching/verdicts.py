"""What the linked lines of each order say, side by side with what was expected.

Per order and side (the sale with its fees, the refunds, the chargebacks), over the whole
batch in three aggregate queries: what this batch brought, what earlier batches already
settled for the order, and what was expected. The verdict is worked out here in Decimal (one
rule per outcome, readable), then written back in one statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection

from ..models import Outcome, ProviderSettings, SettlementBatch
from ..parsers.base import LineKind
from .rules import EXPECTED, LINE, LINKS

VERDICTS = "settlements_verdicts"
_ZERO = Decimal(0)
_CHUNK = 50_000  # groups per fetch (a million lines: 200,000 groups, four fetches)

SALE_KINDS = (LineKind.CHARGE, LineKind.SHIPPING, LineKind.TAX, LineKind.PROMOTION)
FEE_KINDS = (LineKind.FEE, LineKind.COMMISSION)
CHARGEBACK_KINDS = (LineKind.CHARGEBACK, LineKind.CHARGEBACK_REVERSAL)


def side_sql(alias: str) -> str:
    """A line's side: its refunds, its chargebacks, or the sale (with its fees)."""
    chargebacks = ", ".join(f"'{k.value}'" for k in CHARGEBACK_KINDS)
    return (
        f"CASE WHEN {alias}.kind = 'refund' THEN 'refund' "
        f"WHEN {alias}.kind IN ({chargebacks}) THEN 'chargeback' ELSE 'sale' END"
    )


def _in(kinds: Iterable[LineKind]) -> str:
    return ", ".join(f"'{k.value}'" for k in kinds)


@dataclass(slots=True)
class Group:
    order_id: int
    side: str
    currency: str
    currencies: int
    gross: Decimal = _ZERO
    fee: Decimal = _ZERO
    earlier_gross: Decimal = _ZERO
    earlier_fee: Decimal = _ZERO
    expected_gross: Decimal | None = None
    expected_fee: Decimal = _ZERO
    expected_count: int = 0
    expected_id: int | None = None
    expected_currency: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    order_id: int
    side: str
    outcome: str
    reason: str
    expected_id: int | None
    variance: Decimal


def _d(value: object) -> Decimal:
    return Decimal(str(value)) if value is not None else _ZERO


def _groups_sql(source: str) -> str:
    """Per order and side: what this batch brought, what earlier batches settled, and what
    was expected; one statement, read in chunks. One currency or more than one, not how many:
    a `COUNT(DISTINCT)` sorts a million lines, where the other aggregates hash them."""
    side = side_sql("l")
    # A line's gross counts towards its side (a sale's kinds, a refund, a chargeback): one sum
    # per amount, as few aggregates as possible held per group (200,000 of them at a million).
    counted = _in((*SALE_KINDS, LineKind.REFUND, *CHARGEBACK_KINDS))
    gross = f"CASE WHEN l.kind IN ({counted}) THEN l.gross ELSE 0 END"
    fee = f"l.fee + CASE WHEN l.kind IN ({_in(FEE_KINDS)}) THEN l.gross ELSE 0 END"
    return f"""
    WITH here AS (
        SELECT k.order_id, {side} AS side, MIN(l.currency) AS currency,
               CASE WHEN MIN(l.currency) = MAX(l.currency) THEN 1 ELSE 2 END AS currencies,
               SUM({gross}) AS gross, SUM({fee}) AS fee
        FROM {LINKS} k JOIN {source} l ON l.id = k.line_id
        GROUP BY k.order_id, {side}
    ), earlier AS (
        SELECT l.order_id, {side} AS side, SUM({gross}) AS gross, SUM({fee}) AS fee
        FROM {LINE} l
        WHERE l.order_id IN (SELECT order_id FROM here) AND l.batch_id <> %s
          AND l.outcome IN ('matched', 'variance')
        GROUP BY l.order_id, {side}
    ), expected AS (
        SELECT e.order_id, CASE e.kind WHEN 'charge' THEN 'sale' ELSE 'refund' END AS side,
               SUM(e.gross) AS gross, SUM(e.fee) AS fee, COUNT(*) AS n, MIN(e.id) AS first,
               MIN(e.currency) AS currency
        FROM {EXPECTED} e WHERE e.order_id IN (SELECT order_id FROM here)
        GROUP BY e.order_id, e.kind
    )
    SELECT h.order_id, h.side, h.currency, h.currencies, h.gross, h.fee,
           er.gross, er.fee, ex.gross, ex.fee, ex.n, ex.first, ex.currency
    FROM here h
    LEFT JOIN earlier er ON er.order_id = h.order_id AND er.side = h.side
    LEFT JOIN expected ex ON ex.order_id = h.order_id AND ex.side = h.side
    """


def _group(row: tuple[Any, ...]) -> Group:
    order_id, side, currency, currencies, gross, fee, e_gross, e_fee = row[:8]
    x_gross, x_fee, x_count, x_first, x_currency = row[8:]
    return Group(
        order_id,
        side,
        currency,
        currencies,
        _d(gross),
        _d(fee),
        _d(e_gross),
        _d(e_fee),
        None if x_gross is None else _d(x_gross),
        _d(x_fee),
        x_count or 0,
        x_first,
        x_currency or "",
    )


@dataclass(slots=True)
class Judged:
    """What a person needs from a batch's verdicts (the rest went to the database)."""

    flagged: list[Verdict]  # verdicts with a reason: exceptions to raise
    reversed_chargebacks: list[int]  # orders whose chargeback came back
    groups: int = 0


def verdicts_judge(
    batch: SettlementBatch, settings: ProviderSettings, source: str = LINE
) -> Judged:
    """Judge every linked order's lines, a chunk at a time, into the run's verdicts table:
    memory holds a chunk, not the batch."""
    _verdicts_create()
    judged = Judged([], [])
    with connection.chunked_cursor() as reading:
        reading.execute(_groups_sql(source), [batch.pk])
        while rows := reading.fetchmany(_CHUNK):
            verdicts = [verdict_of(_group(tuple(row)), settings) for row in rows]
            _verdicts_write(verdicts)
            judged.groups += len(verdicts)
            for v in verdicts:
                if v.reason:
                    judged.flagged.append(v)
                elif v.side == "chargeback":
                    judged.reversed_chargebacks.append(v.order_id)
            del rows, verdicts  # one chunk in memory, not the last one and the next
    return judged


def verdict_of(group: Group, settings: ProviderSettings) -> Verdict:
    """The one place an order's lines in a batch get their outcome and reason."""

    def verdict(outcome: str, reason: str = "", variance: Decimal = _ZERO) -> Verdict:
        return Verdict(group.order_id, group.side, outcome, reason, group.expected_id, variance)

    total = group.earlier_gross + group.gross
    if group.side == "chargeback":
        # A dispute is for a person to answer, until a reversal brings the money back.
        return verdict(
            Outcome.MATCHED, "" if abs(total) <= settings.amount_tolerance else "chargeback"
        )
    if group.currencies > 1 or (
        group.expected_currency and group.currency != group.expected_currency
    ):
        return verdict(Outcome.VARIANCE, "currency_mismatch")
    if group.expected_gross is None:  # an order known, but nothing of this kind expected
        return verdict(Outcome.VARIANCE, "amount_mismatch", group.gross)
    tolerance = settings.amount_tolerance
    if (
        group.side == "sale"
        and group.earlier_gross
        and abs(group.earlier_gross - group.expected_gross) <= tolerance
        and abs(group.gross) > tolerance
    ):
        return verdict(Outcome.DUPLICATE, "duplicate", group.gross)
    difference = total - group.expected_gross
    if abs(difference) <= tolerance:
        fees = group.earlier_fee + group.fee
        if group.expected_fee and abs(fees - group.expected_fee) > settings.fee_tolerance:
            return verdict(Outcome.VARIANCE, "fee_variance", fees - group.expected_fee)
        return verdict(Outcome.MATCHED)
    if group.expected_count > 1 and abs(total) < abs(group.expected_gross):
        return verdict(Outcome.VARIANCE, "split_incomplete", difference)
    return verdict(Outcome.VARIANCE, "amount_mismatch", difference)


def _verdicts_create() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {VERDICTS}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {VERDICTS} (order_id bigint, side varchar(10), "
            "outcome varchar(12), reason varchar(32), expected_id bigint, "
            "PRIMARY KEY (order_id, side))"
        )


def _verdicts_write(verdicts: list[Verdict]) -> None:
    rows = [(v.order_id, v.side, v.outcome, v.reason, v.expected_id) for v in verdicts]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {VERDICTS} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO {VERDICTS} VALUES (%s, %s, %s, %s, %s)", rows)


def verdicts_drop() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {VERDICTS}")
