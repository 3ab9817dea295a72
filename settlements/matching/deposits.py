"""Payouts to bank deposits, and what has aged past its time.

A payout is found in a bank statement by its reference (the payout or settlement id in the
remittance text or the entry's references), else by its amount within tolerance and a date
within the window of its deposit date, when exactly one deposit fits and it fits no other
payout. The sets are small (payouts still waiting, credits not yet matched), so they are read
once each and paired here. A payout not seen by its deposit date plus the provider's grace
days is `missing` and queued as `deposit_missing`; an expectation past its payout lag and
window, as `settlement_overdue`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction

from retailsync.core.contracts import contract_event
from retailsync.core.events import events_record
from retailsync.core.models import ExceptionItem

from ..events import PayoutDeposited
from ..models import ExpectedSettlement, Outcome, ProviderSettings, SettlementBatch, SettlementLine
from ..parsers.base import LineKind
from .exceptions import REASONS, Finding, findings_raise

Pending = SettlementBatch.DepositStatus


def _settings() -> dict[str, ProviderSettings]:
    return {s.provider: s for s in ProviderSettings.objects.all()}


def _fits(batch: SettlementBatch, line: SettlementLine, s: ProviderSettings) -> bool:
    if batch.payout_amount is None or line.currency != batch.currency or line.posted_at is None:
        return False
    if abs(line.net - batch.payout_amount) > s.amount_tolerance:
        return False
    around = batch.deposit_date or batch.period_end or batch.created_at.date()
    return abs((line.posted_at.date() - around).days) <= s.date_window_days


def _by_reference(batch: SettlementBatch, line: SettlementLine) -> bool:
    key = batch.key.lower()
    return line.currency == batch.currency and any(
        key and key in text.lower()
        for text in (line.description, line.payment_ref, line.related_ref)
    )


def deposits_match(*, now: datetime) -> int:
    """Pair waiting payouts with unmatched bank credits; returns how many were paired."""
    waiting = list(
        SettlementBatch.objects.filter(
            is_statement=False, deposit_status__in=[Pending.PENDING, Pending.MISSING]
        ).select_related("legal_entity")
    )
    credits = list(
        SettlementLine.objects.filter(
            batch__is_statement=True, kind=LineKind.DEPOSIT, outcome=Outcome.UNMATCHED, manual=False
        )
    )
    if not waiting or not credits:
        return 0
    settings = _settings()
    pairs: list[tuple[SettlementBatch, SettlementLine, str]] = []
    taken: set[int] = set()
    for batch in waiting:
        named = [c for c in credits if c.pk not in taken and _by_reference(batch, c)]
        if len(named) == 1:
            pairs.append((batch, named[0], "reference"))
            taken.add(named[0].pk)
    paired = {b.pk for b, _, _ in pairs}
    fits: dict[int, list[SettlementBatch]] = {}
    for batch in waiting:
        if batch.pk in paired:
            continue
        s = settings.get(batch.provider) or ProviderSettings(provider=batch.provider)
        for c in credits:
            if c.pk not in taken and _fits(batch, c, s):
                fits.setdefault(c.pk, []).append(batch)
    by_batch: dict[int, list[int]] = {}
    for line_id, batches in fits.items():
        for b in batches:
            by_batch.setdefault(b.pk, []).append(line_id)
    lines = {c.pk: c for c in credits}
    for line_id, batches in fits.items():
        if len(batches) == 1 and len(by_batch[batches[0].pk]) == 1:
            pairs.append((batches[0], lines[line_id], "amount_date"))
    with transaction.atomic():
        for batch, line, rule in pairs:
            _deposit(batch, line, rule, now=now)
    return len(pairs)


def _deposit(batch: SettlementBatch, line: SettlementLine, rule: str, *, now: datetime) -> None:
    assert line.posted_at is not None
    s = ProviderSettings.objects.filter(provider=batch.provider).first()
    tolerance = s.amount_tolerance if s else Decimal("0.01")
    exact = batch.payout_amount is not None and abs(line.net - batch.payout_amount) <= tolerance
    line.outcome = Outcome.MATCHED if exact else Outcome.VARIANCE
    line.rule = rule
    line.reason = "" if exact else "payout_variance"
    line.save(update_fields=["outcome", "rule", "reason"])
    batch.deposit_status = Pending.MATCHED
    batch.deposited_on = line.posted_at.date()
    batch.deposit_line = line
    batch.save(update_fields=["deposit_status", "deposited_on", "deposit_line"])
    ExceptionItem.objects.filter(
        status=ExceptionItem.Status.OPEN, dedupe_key=f"deposit_missing:{batch.pk}"
    ).update(
        status=ExceptionItem.Status.RESOLVED,
        resolved_at=now,
        resolution=f"Deposited on {batch.deposited_on}.",
    )
    if not exact:
        findings_raise(
            [
                Finding(
                    key=f"deposit:{batch.pk}:payout_variance",
                    reason="payout_variance",
                    text=f"{batch}: the bank credited {line.net:.2f}, the payout was "
                    f"{batch.payout_amount:.2f} {batch.currency}",
                    object_type="settlement_batch",
                    object_id=str(batch.pk),
                    object_label=batch.key,
                    details={"bank_line": line.pk},
                )
            ],
            channel=batch.channel,
            now=now,
        )
    events_record(
        [
            contract_event(
                PayoutDeposited(
                    batch_id=batch.pk,
                    provider=batch.provider,
                    key=batch.key,
                    legal_entity=batch.legal_entity.code if batch.legal_entity else "",
                    currency=batch.currency,
                    amount=line.net,
                    deposited_on=batch.deposited_on,
                    bank_line_id=line.pk,
                ),
                aggregate_type="settlement_batch",
                aggregate_id=batch.pk,
            )
        ],
        now=now,
    )


def settlements_age(*, now: datetime) -> dict[str, int]:
    """Payouts past their deposit date and grace: missing. Expectations past their lag."""
    settings = _settings()
    today = now.date()
    findings: list[Finding] = []
    late: list[int] = []
    for batch in SettlementBatch.objects.filter(is_statement=False, deposit_status=Pending.PENDING):
        s = settings.get(batch.provider) or ProviderSettings(provider=batch.provider)
        due = (batch.deposit_date or batch.period_end or batch.created_at.date()) + timedelta(
            days=s.deposit_grace_days
        )
        if due < today:
            late.append(batch.pk)
            findings.append(
                Finding(
                    key=f"deposit_missing:{batch.pk}",
                    reason="deposit_missing",
                    text=f"{batch}: {batch.payout_amount or 0:.2f} {batch.currency} due by "
                    f"{due}, {REASONS['deposit_missing']}",
                    object_type="settlement_batch",
                    object_id=str(batch.pk),
                    object_label=batch.key,
                    details={"due": str(due)},
                )
            )
    SettlementBatch.objects.filter(pk__in=late).update(deposit_status=Pending.MISSING)
    overdue = 0
    waiting = ExpectedSettlement.objects.filter(status=ExpectedSettlement.Status.OPEN)
    for provider_name in waiting.values_list("provider", flat=True).distinct().order_by():
        s = settings.get(provider_name) or ProviderSettings(provider=provider_name)
        cutoff = today - timedelta(days=s.date_window_days)
        rows = ExpectedSettlement.objects.filter(
            status=ExpectedSettlement.Status.OPEN, provider=provider_name, expected_on__lt=cutoff
        ).select_related("order")[:1000]
        for e in rows:
            overdue += 1
            label = e.order.order_number or e.order.external_id
            findings.append(
                Finding(
                    key=f"settlement_overdue:{e.pk}",
                    reason="settlement_overdue",
                    text=f"Order {label}: {e.gross:.2f} {e.currency} by {e.provider or 'the provider'}"
                    f" expected on {e.expected_on}, {REASONS['settlement_overdue']}",
                    object_type="order",
                    object_id=str(e.order_id),
                    object_label=label,
                    details={"expected": e.pk},
                )
            )
    findings_raise(findings, channel=None, now=now)
    return {"missing": len(late), "overdue": overdue}
