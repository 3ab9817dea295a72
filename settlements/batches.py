"""Batches as files describe them, and the figures finance reads off each (API.md signs).

`gross` is the sales in (charges with their shipping, tax and promotions), `refunds` and
`chargebacks` what went back, `fees` every fee and commission (a line's own fee column and the
fee lines), `net` the sum of every line but the payout itself, and `variance` what the provider
says it paid out less that net.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce

from .models import BANK_FORMATS, Outcome, ProviderSettings, SettlementBatch, SettlementLine, Upload
from .parsers.base import LineKind, ParsedBatch

SALE_KINDS = (LineKind.CHARGE, LineKind.SHIPPING, LineKind.TAX, LineKind.PROMOTION)
FEE_KINDS = (LineKind.FEE, LineKind.COMMISSION)
CHARGEBACK_KINDS = (LineKind.CHARGEBACK, LineKind.CHARGEBACK_REVERSAL)
_ZERO = Value(Decimal(0), output_field=DecimalField(max_digits=19, decimal_places=4))


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


def _sum(field: str, condition: Q) -> Coalesce:
    return Coalesce(Sum(field, filter=condition), _ZERO)


def batches_totals(batch_ids: Sequence[int]) -> None:
    """Recount the batches' figures from their lines: one aggregate query for all of them."""
    figures = (
        SettlementLine.objects.filter(batch_id__in=batch_ids)
        .values("batch_id")
        .annotate(
            gross_=_sum("gross", Q(kind__in=SALE_KINDS)),
            refunds_=_sum("gross", Q(kind=LineKind.REFUND)),
            chargebacks_=_sum("gross", Q(kind__in=CHARGEBACK_KINDS)),
            fees_=Coalesce(Sum("fee"), _ZERO) + _sum("gross", Q(kind__in=FEE_KINDS)),
            net_=_sum("net", ~Q(kind=LineKind.PAYOUT)),
            payout_line_=_sum("net", Q(kind=LineKind.PAYOUT)),
            lines_=Count("id"),
            matched_=Count(
                "id",
                filter=Q(outcome__in=[Outcome.MATCHED, Outcome.VARIANCE, Outcome.WRITTEN_OFF]),
            ),
            unmatched_=Count("id", filter=Q(outcome__in=[Outcome.UNMATCHED, Outcome.DUPLICATE])),
        )
    )
    by_batch = {row["batch_id"]: row for row in figures}
    for batch in SettlementBatch.objects.filter(pk__in=batch_ids):
        row = by_batch.get(batch.pk)
        if row is None:
            continue
        batch.gross = row["gross_"]
        batch.refunds = row["refunds_"]
        batch.chargebacks = row["chargebacks_"]
        batch.fees = row["fees_"]
        batch.net = row["net_"]
        batch.lines_count = row["lines_"]
        batch.matched = row["matched_"]
        batch.unmatched = row["unmatched_"]
        if batch.payout_amount is None and row["payout_line_"] and not batch.is_statement:
            batch.payout_amount = -row["payout_line_"]  # the transfer out of the provider
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
