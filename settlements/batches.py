"""Batches as files describe them, and the figures finance reads off each (API.md signs).

`gross` is the sales in (charges with their shipping, tax and promotions), `refunds` and
`chargebacks` what went back, `fees` every fee and commission (a line's own fee column and the
fee lines), `net` the sum of every line but the payout itself, and `variance` what the provider
says it paid out less that net.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Sum

from .models import BANK_FORMATS, Outcome, ProviderSettings, SettlementBatch, SettlementLine, Upload
from .parsers.base import LineKind, ParsedBatch

SALE_KINDS = (LineKind.CHARGE, LineKind.SHIPPING, LineKind.TAX, LineKind.PROMOTION)
FEE_KINDS = (LineKind.FEE, LineKind.COMMISSION)
CHARGEBACK_KINDS = (LineKind.CHARGEBACK, LineKind.CHARGEBACK_REVERSAL)
_MATCHED = (Outcome.MATCHED, Outcome.VARIANCE, Outcome.WRITTEN_OFF)
_UNMATCHED = (Outcome.UNMATCHED, Outcome.DUPLICATE)


def batches_save(
    upload: Upload, parsed: Sequence[ParsedBatch], *, now: datetime
) -> list[SettlementBatch]:
    """The upload's batches, made or found by (provider, key); what a later file adds that an
    earlier one left blank (a payout amount, a deposit date) is filled in."""
    provider = upload.provider
    statement = provider in BANK_FORMATS
    channel = upload.channel
    if channel is None and not statement:
        configured = ProviderSettings.objects.filter(provider=provider).first()
        channel = configured.channel if configured else None
    existing = {
        b.key: b
        for b in SettlementBatch.objects.filter(provider=provider, key__in=[p.key for p in parsed])
    }
    kept = []
    for p in parsed:
        batch = existing.get(p.key)
        if batch is None:
            batch = SettlementBatch(
                provider=provider,
                key=p.key,
                is_statement=statement,
                channel=channel,
                legal_entity=channel.legal_entity if channel else None,
                file_hash=upload.sha256,
                upload=upload,
                created_at=now,
                deposit_status=(
                    SettlementBatch.DepositStatus.NONE
                    if statement
                    else SettlementBatch.DepositStatus.PENDING
                ),
            )
        for field in (
            "period_start",
            "period_end",
            "deposit_date",
            "currency",
            "payout_amount",
            "opening_balance",
            "closing_balance",
            "account",
        ):
            value = getattr(p, field)
            if getattr(batch, field, None) in (None, "") and value not in (None, ""):
                setattr(batch, field, value)
        batch.save()
        kept.append(batch)
    return kept


@dataclass(frozen=True, slots=True)
class Figure:
    """A batch's lines of one kind and outcome, added up."""

    kind: str
    outcome: str
    gross: Decimal
    fee: Decimal
    net: Decimal
    lines: int


def _total(figures: Iterable[Figure], amount: str, kinds: Iterable[str] | None = None) -> Decimal:
    chosen = None if kinds is None else set(kinds)
    return sum(
        (getattr(f, amount) for f in figures if chosen is None or f.kind in chosen), Decimal(0)
    )


def batches_totals(batch_ids: Sequence[int]) -> dict[int, list[Figure]]:
    """Recount the batches' figures from their lines, in one aggregate query for all of them
    (by kind and outcome: what a match run reports is read off the same figures); returns
    the figures of each batch."""
    figures: dict[int, list[Figure]] = {}
    rows = (
        SettlementLine.objects.filter(batch_id__in=batch_ids)
        .values_list("batch_id", "kind", "outcome")
        .annotate(Sum("gross"), Sum("fee"), Sum("net"), Count("id"))
        .order_by()
    )
    for batch_id, kind, outcome, gross, fee, net, lines in rows:
        figures.setdefault(batch_id, []).append(Figure(kind, outcome, gross, fee, net, lines))
    for batch in SettlementBatch.objects.filter(pk__in=batch_ids):
        found = figures.get(batch.pk)
        if not found:
            continue
        others = [f for f in found if f.kind != LineKind.PAYOUT]
        batch.gross = _total(found, "gross", SALE_KINDS)
        batch.refunds = _total(found, "gross", [LineKind.REFUND])
        batch.chargebacks = _total(found, "gross", CHARGEBACK_KINDS)
        batch.fees = _total(found, "fee") + _total(found, "gross", FEE_KINDS)
        batch.net = _total(others, "net")
        batch.lines_count = sum(f.lines for f in found)
        batch.matched = sum(f.lines for f in found if f.outcome in _MATCHED)
        batch.unmatched = sum(f.lines for f in found if f.outcome in _UNMATCHED)
        payout_line = _total(found, "net", [LineKind.PAYOUT])
        if batch.payout_amount is None and payout_line and not batch.is_statement:
            batch.payout_amount = -payout_line  # the transfer out of the provider
        if batch.payout_amount is None and not batch.is_statement:
            batch.payout_amount = batch.net
        batch.variance = (batch.payout_amount or Decimal(0)) - batch.net
        if batch.is_statement:
            batch.variance = Decimal(0)
        batch.save(
            update_fields=[
                "gross",
                "refunds",
                "chargebacks",
                "fees",
                "net",
                "lines_count",
                "matched",
                "unmatched",
                "payout_amount",
                "variance",
            ]
        )
    return figures
