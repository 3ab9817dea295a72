"""What a person does to a line or a batch: match, unmatch, write off, undo a run.

A person's word on a line (`manual`) stands through every later run of the rules. A write-off
says why and tells the journals (`settlement.line_written_off`)."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from orders.models import Order
from retailsync.core.contracts import contract_event
from retailsync.core.errors import BusinessRuleViolation
from retailsync.core.events import events_record
from retailsync.core.models import ExceptionItem

from ..batches import batches_totals
from ..events import SettlementLineWrittenOff
from ..models import MatchRun, Outcome, SettlementBatch, SettlementLine


def _by_hand(line: SettlementLine, user: AbstractBaseUser | None, note: str) -> None:
    line.manual = True
    line.note = f"{note} ({getattr(user, 'username', 'system')})".strip()


def _resolve_line_findings(line: SettlementLine, *, now: datetime, resolution: str) -> None:
    ExceptionItem.objects.filter(
        status=ExceptionItem.Status.OPEN,
        object_type="settlement_line",
        object_id=str(line.pk),
    ).update(status=ExceptionItem.Status.RESOLVED, resolved_at=now, resolution=resolution)


def line_match(
    line: SettlementLine, *, order: Order, user: AbstractBaseUser | None, note: str, now: datetime
) -> SettlementLine:
    if line.batch.is_statement:
        raise BusinessRuleViolation("bank lines are matched to payouts, not orders", field="order")
    with transaction.atomic():
        line.order = order
        line.outcome = Outcome.MATCHED
        line.rule = "manual"
        line.reason = ""
        _by_hand(line, user, note or "matched by hand")
        line.save()
        _resolve_line_findings(line, now=now, resolution=f"Matched to order {order} by hand.")
        batches_totals([line.batch_id])
    return line


def line_unmatch(
    line: SettlementLine, *, user: AbstractBaseUser | None, note: str, now: datetime
) -> SettlementLine:
    with transaction.atomic():
        line.order = None
        line.expected = None
        line.outcome = Outcome.UNMATCHED
        line.rule = "manual"
        line.reason = ""
        _by_hand(line, user, note or "unmatched by hand")
        line.save()
        batches_totals([line.batch_id])
    return line


def line_write_off(
    line: SettlementLine, *, user: AbstractBaseUser | None, reason: str, now: datetime
) -> SettlementLine:
    if not reason.strip():
        raise BusinessRuleViolation("a write-off needs a reason", field="reason")
    if line.outcome == Outcome.WRITTEN_OFF:
        raise BusinessRuleViolation("the line is written off already", field="line")
    batch = line.batch
    with transaction.atomic():
        line.outcome = Outcome.WRITTEN_OFF
        line.rule = "manual"
        _by_hand(line, user, reason.strip())
        line.save()
        _resolve_line_findings(line, now=now, resolution=f"Written off: {reason.strip()}")
        batches_totals([line.batch_id])
        events_record(
            [
                contract_event(
                    SettlementLineWrittenOff(
                        line_id=line.pk,
                        batch_id=batch.pk,
                        provider=line.provider,
                        legal_entity=batch.legal_entity.code if batch.legal_entity else "",
                        order_id=line.order_id,
                        kind=line.kind,
                        currency=line.currency,
                        amount=line.net,
                        reason=reason.strip()[:500],
                    ),
                    aggregate_type="settlement_line",
                    aggregate_id=line.pk,
                )
            ],
            now=now,
        )
    return line


def batch_undo(batch: SettlementBatch, *, user: AbstractBaseUser | None, now: datetime) -> int:
    """Take back the rules' matches of a batch (a person's stay); returns the lines reset."""
    with transaction.atomic():
        reset = SettlementLine.objects.filter(batch=batch, manual=False).update(
            outcome=Outcome.UNMATCHED, order=None, expected=None, rule="", reason=""
        )
        MatchRun.objects.filter(batch=batch, undone_at__isnull=True).update(undone_at=now)
        ExceptionItem.objects.filter(
            status=ExceptionItem.Status.OPEN, dedupe_key__startswith=f"settlement:{batch.pk}:"
        ).update(
            status=ExceptionItem.Status.RESOLVED,
            resolved_at=now,
            resolution="The batch's matching was undone.",
        )
        batch.matched_at = None
        batch.save(update_fields=["matched_at"])
        batches_totals([batch.pk])
    return reset
