"""Settlements: what a provider's payout is made of, the payout reaching the bank, write-offs.

A matched batch: cash in transit for the payout against the channel clearing account for the
sales, refunds and adjustments it settles, with fees, marketplace commissions, advertising,
reserves and chargebacks each to their own account; a payout that differs from its lines leaves
the difference on clearing (the variance is an exception in settlements already). Amounts are
the lines' own, summed per kind and sign in SQL; each journal line links to every settlement
line it sums, written by one INSERT … SELECT.

Sales settled in another currency than their order's go to the FX difference account in the
batch's currency, and in the order's currency the clearing account is relieved against it, at
the rate the settlement implies (its lines over the order's total, or over the expected
settlement): the rate and its source are on both lines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import F, Q, QuerySet

from retailsync.core.contracts import Typed
from retailsync.core.money import quantize
from settlements.events import PayoutDeposited, SettlementBatchMatched, SettlementLineWrittenOff
from settlements.models import SettlementBatch, SettlementLine
from settlements.parsers.base import LineKind as L

from ..models import AmountKind as K
from ..models import SourceType
from .legs import ZERO, Leg, LegsBuilder, Posting, SourceRef, SqlSources
from .when import local_date

# Where each kind of settlement line goes; what is not here is not posted (bank lines).
TARGET = {
    **dict.fromkeys(
        (L.CHARGE, L.REFUND, L.SHIPPING, L.TAX, L.PROMOTION, L.ADJUSTMENT, L.OTHER), K.CLEARING
    ),
    L.FEE: K.FEES,
    L.COMMISSION: K.COMMISSION,
    L.ADVERTISING: K.ADVERTISING,
    L.RESERVE_HOLD: K.RESERVE,
    L.RESERVE_RELEASE: K.RESERVE,
    L.CHARGEBACK: K.CHARGEBACK,
    L.CHARGEBACK_REVERSAL: K.CHARGEBACK,
}
CLEARING_KINDS = [k for k, v in TARGET.items() if v == K.CLEARING]
_FOREIGN_Q = Q(order__isnull=False, kind__in=CLEARING_KINDS) & ~Q(order__currency=F("currency"))


def fee_target(kind: str) -> str:
    """A line's own fee column: fees, unless the line is itself a commission or the like."""
    target = TARGET.get(kind, K.FEES)  # type: ignore[call-overload]
    return str(K.FEES if target == K.CLEARING else target)


# Every amount of a batch's lines but its payout, once per column, with the part of the
# posting it goes to, "<column>:<kind>:<sign>", in one pass over the lines: a sale settled in
# another currency than its order's has its gross in part "fx", even a zero one (`_fx_legs`
# posts those line by line, with a note where no rate can be read). The orders are joined only
# where such a sale can be (`foreign`); one form for PostgreSQL and SQLite (the demo).
_PARTS_SQL = """
SELECT CASE WHEN x.col = 'gross' AND x.foreign_line THEN 'fx'
            ELSE x.col || ':' || x.kind || CASE WHEN x.v > 0 THEN ':+' ELSE ':-' END
       END AS part,
       x.id, abs(x.v) AS amount
FROM (
    SELECT c.col, l.kind, l.id, CASE c.col WHEN 'gross' THEN l.gross ELSE l.fee END AS v,
           {foreign} AS foreign_line
    FROM settlements_settlementline l
    CROSS JOIN (SELECT 'gross' AS col UNION ALL SELECT 'fee' AS col) c
    {join}
    WHERE l.batch_id = %s AND l.kind <> 'payout'
) x
WHERE x.v <> 0 OR (x.col = 'gross' AND x.foreign_line)
"""
_FOREIGN = "(l.order_id IS NOT NULL AND l.kind IN ({kinds}) AND o.currency <> l.currency)"
_ORDERS = "LEFT JOIN orders_order o ON o.id = l.order_id"
FX = "fx"
_PLACES = Decimal("0.0001")


def parts_sql(batch_id: int, *, foreign: bool) -> tuple[str, tuple[Any, ...]]:
    """The batch's amounts by part (see `_PARTS_SQL`): rows (part, line id, amount)."""
    if not foreign:
        return _PARTS_SQL.format(foreign="1 = 0", join=""), (batch_id,)
    kinds = ", ".join(["%s"] * len(CLEARING_KINDS))
    sql = _PARTS_SQL.format(foreign=_FOREIGN.format(kinds=kinds), join=_ORDERS)
    return sql, (*[str(k) for k in CLEARING_KINDS], batch_id)


class Part(NamedTuple):
    name: str  # as `_PARTS_SQL` writes it
    column: str  # gross, fee, or FX
    kind: str  # the lines' kind ("" for FX)
    total: Decimal  # signed as the lines have it


def _parts(batch_id: int) -> list[Part]:
    """The batch's parts and their totals: gross before fee, then by kind, negative before
    positive."""
    sql, params = parts_sql(batch_id, foreign=True)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT part, SUM(amount) FROM ({sql}) p GROUP BY part", params)  # noqa: S608
        rows = cursor.fetchall()
    out = []
    for name, total in rows:
        column, _, rest = name.partition(":")
        kind, _, sign = rest.rpartition(":")
        size = Decimal(str(total)).quantize(_PLACES)  # SQLite sums amounts as floats
        out.append(Part(name, column, kind, -size if sign == "-" else size))
    columns = {"gross": 0, "fee": 1, FX: 2}
    return sorted(out, key=lambda p: (columns[p.column], p.kind, p.total > 0))


def batch_postings(matched: Sequence[Typed[SettlementBatchMatched]]) -> list[Posting]:
    batches = SettlementBatch.objects.select_related("channel", "legal_entity").in_bulk(
        [m.payload.batch_id for m in matched]
    )
    return [
        _batch_posting(m, batches[m.payload.batch_id])
        for m in matched
        if m.payload.batch_id in batches
    ]


def _batch_posting(matched: Typed[SettlementBatchMatched], batch: SettlementBatch) -> Posting:
    c, method = batch.currency, batch.provider
    legs = LegsBuilder(c)
    notes: list[str] = []
    parts = _parts(batch.pk)
    foreign = any(p.column == FX for p in parts)
    sql, params = parts_sql(batch.pk, foreign=foreign)
    for p in parts:
        if p.column == FX or p.kind not in TARGET:
            continue
        target = TARGET[p.kind] if p.column == "gross" else fee_target(p.kind)  # type: ignore[index]
        sources = SqlSources(SourceType.SETTLEMENT_LINE, sql, params, p.name)
        legs.legs.append(Leg(target, -p.total, c, sql_sources=sources, payment_method=method))
    batch_src = (SourceRef(SourceType.SETTLEMENT_BATCH, batch.pk, ZERO),)
    payout = batch.payout_amount if batch.payout_amount is not None else batch.net
    legs.add(K.CASH_IN_TRANSIT, payout, _at(batch_src, payout), payment_method=method)
    legs.add(
        K.CLEARING,
        -batch.variance,
        _at(batch_src, -batch.variance),
        payment_method=method,
        description="Payout differs from its lines",
    )
    if foreign:
        lines = SettlementLine.objects.filter(batch=batch).exclude(kind=L.PAYOUT)
        _fx_legs(legs, lines.filter(_FOREIGN_Q), method, notes)
    return Posting(
        event_name=SettlementBatchMatched.EVENT,  # type: ignore[attr-defined]
        source_id=batch.pk,
        event_id=matched.event.pk,
        legal_entity=batch.legal_entity.code if batch.legal_entity else "",
        channel=batch.channel.code if batch.channel else "",
        payment_method=method,
        posting_date=batch.deposit_date or batch.period_end or local_date(matched.event.created_at),
        legs=tuple(legs.legs),
        notes=tuple(notes),
        correlation_id=matched.event.correlation_id,
    )


def _at(sources: tuple[SourceRef, ...], amount: Decimal) -> SourceRef:
    return SourceRef(sources[0].type, sources[0].id, amount)


def _fx_legs(
    legs: LegsBuilder, foreign: QuerySet[SettlementLine], method: str, notes: list[str]
) -> None:
    """Each foreign-currency sale to FX difference, and its order's clearing relieved."""
    rows = list(foreign.select_related("order", "expected").order_by("pk"))
    charged: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for line in rows:
        if line.kind == L.CHARGE and line.order is not None:
            charged[line.order.pk] += line.gross
    for line in rows:
        order = line.order
        assert order is not None
        src = SourceRef(SourceType.SETTLEMENT_LINE, line.pk, -line.gross)
        rate, said = _rate(line, charged.get(order.pk, ZERO))
        if rate is None:
            notes.append(
                f"Settlement line {line.pk} settles order {order.pk} in {line.currency}, not "
                f"{order.currency}, and no rate can be read off it: the order's clearing is "
                "left for a person to relieve."
            )
            legs.add(K.FX_DIFFERENCE, -line.gross, src, payment_method=method)
            continue
        fx: dict[str, Any] = {"fx_rate": rate, "fx_rate_source": said}
        text = f"FX {line.currency}/{order.currency} {rate:.6f}: order {order.pk}"
        legs.add(K.FX_DIFFERENCE, -line.gross, src, payment_method=method, description=text, **fx)
        mirrored = quantize(line.gross / rate, order.currency)
        order_src = SourceRef(SourceType.SETTLEMENT_LINE, line.pk, mirrored)
        legs.add(
            K.FX_DIFFERENCE,
            mirrored,
            order_src,
            currency=order.currency,
            payment_method=method,
            description=text,
            **fx,
        )
        legs.add(
            K.CLEARING,
            -mirrored,
            SourceRef(SourceType.SETTLEMENT_LINE, line.pk, -mirrored),
            currency=order.currency,
            payment_method=method,
        )


def _rate(line: SettlementLine, charged: Decimal) -> tuple[Decimal | None, str]:
    """Batch currency per unit of the order's, and where it was read."""
    order = line.order
    assert order is not None
    if charged and order.total:
        rate = charged / order.total
        return rate.quantize(Decimal("0.00000001")), (
            f"settlement charges of order {order.pk} over its total"
        )
    expected = line.expected
    if expected is not None and expected.currency == order.currency and expected.gross:
        rate = (line.gross / expected.gross).quantize(Decimal("0.00000001"))
        return rate, f"settlement line {line.pk} over expected settlement {expected.pk}"
    return None, ""


def write_off_postings(written: Sequence[Typed[SettlementLineWrittenOff]]) -> list[Posting]:
    lines = SettlementLine.objects.select_related("batch__channel", "batch__legal_entity").in_bulk(
        [w.payload.line_id for w in written]
    )
    out = []
    for w in written:
        line = lines.get(w.payload.line_id)
        if line is None:
            continue
        batch, method = line.batch, line.provider
        legs = LegsBuilder(line.currency)
        src = SourceRef(SourceType.SETTLEMENT_LINE, line.pk, ZERO)
        target = TARGET.get(line.kind, K.CLEARING)  # type: ignore[call-overload]
        legs.add(target, line.gross, _at((src,), line.gross), payment_method=method)
        legs.add(
            K.WRITE_OFF,
            -line.gross,
            _at((src,), -line.gross),
            payment_method=method,
            description=f"Write-off: {w.payload.reason}"[:300],
        )
        out.append(
            Posting(
                event_name=SettlementLineWrittenOff.EVENT,  # type: ignore[attr-defined]
                source_id=line.pk,
                event_id=w.event.pk,
                legal_entity=w.payload.legal_entity
                or (batch.legal_entity.code if batch.legal_entity else ""),
                channel=batch.channel.code if batch.channel else "",
                payment_method=method,
                posting_date=local_date(w.event.created_at),
                legs=tuple(legs.legs),
                correlation_id=w.event.correlation_id,
            )
        )
    return out


def deposit_postings(deposited: Sequence[Typed[PayoutDeposited]]) -> list[Posting]:
    batches = SettlementBatch.objects.select_related("channel", "legal_entity").in_bulk(
        [d.payload.batch_id for d in deposited]
    )
    out = []
    for d in deposited:
        batch = batches.get(d.payload.batch_id)
        if batch is None:
            continue
        p, method = d.payload, batch.provider
        legs = LegsBuilder(p.currency)
        payout = batch.payout_amount if batch.payout_amount is not None else batch.net
        bank = SourceRef(SourceType.SETTLEMENT_LINE, p.bank_line_id, p.amount)
        legs.add(K.BANK, p.amount, bank, payment_method=method)
        legs.add(
            K.CASH_IN_TRANSIT,
            -payout,
            SourceRef(SourceType.SETTLEMENT_BATCH, batch.pk, -payout),
            payment_method=method,
        )
        legs.add(
            K.FEES,
            payout - p.amount,
            SourceRef(SourceType.SETTLEMENT_BATCH, batch.pk, payout - p.amount),
            payment_method=method,
            description="Deposit differs from the payout",
        )
        out.append(
            Posting(
                event_name=PayoutDeposited.EVENT,  # type: ignore[attr-defined]
                source_id=batch.pk,
                event_id=d.event.pk,
                legal_entity=p.legal_entity
                or (batch.legal_entity.code if batch.legal_entity else ""),
                channel=batch.channel.code if batch.channel else "",
                payment_method=method,
                posting_date=p.deposited_on,
                legs=tuple(legs.legs),
                correlation_id=d.event.correlation_id,
            )
        )
    return out
