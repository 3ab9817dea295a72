"""Matching a batch: link its lines to orders by the rules, give each order's lines a verdict,
queue what a person must look at, check the payout identity, and tell the journals.

A run is a constant number of statements per batch whatever its size (rules.py, verdicts.py);
it can run again (same result, nothing added) and be undone (`batch_undo`). What a person set
by hand (`SettlementLine.manual`) is never touched by a run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Min, Sum

from orders.models import Order
from retailsync.core.contracts import contract_event
from retailsync.core.events import events_record
from retailsync.core.models import ExceptionItem
from retailsync.core.statement_keys import keys_trusted

from ..batches import Figure, batches_totals
from ..events import KindTotal, SettlementBatchMatched
from ..models import (
    ExpectedSettlement,
    MatchRun,
    Outcome,
    ProviderSettings,
    SettlementBatch,
    SettlementLine,
)
from ..staging import FRESH_COLUMNS, analyze
from .deposits import deposits_match
from .exceptions import REASONS, Finding, findings_raise
from .rules import BATCH_KINDS, LINE, LINKS, links_drop, links_find
from .verdicts import VERDICTS, Judged, Verdict, side_sql, verdicts_drop, verdicts_judge

_LABELS_CHUNK = 10_000
MATCH_WORK_MEM = "64MB"  # per sort or hash of a match's statements (one worker, one at a time)
UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE


def provider_settings(provider: str) -> ProviderSettings:
    found = ProviderSettings.objects.filter(provider=provider).first()
    return found or ProviderSettings(provider=provider)


def _judged_sql(source: str, columns: str) -> str:
    """The batch's open lines in `source` (`columns` of each) with their link and verdict."""
    kinds = ", ".join(f"'{k.value}'" for k in BATCH_KINDS)
    # The provider's transfer is the batch's own whatever ids it carries (PayPal gives its
    # withdrawal a transaction id); other batch kinds only when they name no order or payment.
    # The payout itself, and a fee, reserve or adjustment that names no order: the batch's own
    # (their payment_ref is then the line's own transaction id, as PayPal's fee rows carry).
    batch_item = (
        f"(l.kind = 'payout' OR (l.kind IN ({kinds}) AND l.order_ref = '' AND l.related_ref = ''))"
    )
    return f"""
        SELECT {columns}, k.order_id AS order_id, v.expected_id AS expected_id,
          CASE WHEN k.line_id IS NOT NULL THEN k.rule
               WHEN l.kind = 'payout' THEN 'payout'
               WHEN {batch_item} THEN 'batch' ELSE '' END AS rule,
          CASE WHEN k.line_id IS NOT NULL THEN v.outcome
               WHEN {batch_item} THEN 'matched' ELSE 'unmatched' END AS outcome,
          CASE WHEN k.line_id IS NOT NULL THEN v.reason
               WHEN {batch_item} THEN '' ELSE 'no_order' END AS reason
        FROM {source} l
        LEFT JOIN {LINKS} k ON k.line_id = l.id
        LEFT JOIN {VERDICTS} v ON v.order_id = k.order_id AND v.side = {side_sql("l")}
        WHERE l.batch_id = %s AND NOT l.manual
    """


def _apply(batch: SettlementBatch, source: str) -> int:
    """Write every open line's link and verdict in one statement: over the lines kept (a
    re-run), or as a new batch's staged lines go in (staging.FRESH), each written once."""
    with connection.cursor() as cursor:
        if source == LINE:
            cursor.execute(
                f"""
                UPDATE {LINE} SET order_id = x.order_id, rule = x.rule, outcome = x.outcome,
                       reason = x.reason, expected_id = x.expected_id
                FROM ({_judged_sql(LINE, "l.id AS id")}) x
                WHERE {LINE}.id = x.id
                """,
                [batch.pk],
            )
            return int(cursor.rowcount)
        data = ", ".join(f'"{c}"' for c in FRESH_COLUMNS)
        insert = f"""
            INSERT INTO {LINE} ({data}, order_id, expected_id, rule, outcome, reason)
            SELECT x.* FROM ({_judged_sql(source, ", ".join(f'l."{c}"' for c in FRESH_COLUMNS))}) x
        """
        try:
            # A plain INSERT first: `ON CONFLICT` checks each row's key before it goes in, 3 of
            # a million-line INSERT's 21 s, for the rare file that repeats a line already kept.
            # Its batch, orders and expectations were joined to in this transaction.
            with keys_trusted(LINE), transaction.atomic():
                cursor.execute(insert, [batch.pk])
        except IntegrityError as problem:
            if getattr(problem.__cause__, "sqlstate", None) != UNIQUE_VIOLATION:
                raise
            with keys_trusted(LINE):
                cursor.execute(f"{insert} ON CONFLICT (provider, line_key) DO NOTHING", [batch.pk])
        return int(cursor.rowcount)


def _findings(batch: SettlementBatch, flagged: Sequence[Verdict]) -> list[Finding]:
    # The number people know each order by, a chunk of ids per query (a marketplace file can
    # flag more orders than a statement takes parameters).
    ids = sorted({v.order_id for v in flagged})
    labels: dict[int, str] = {}
    for start in range(0, len(ids), _LABELS_CHUNK):
        chunk = ids[start : start + _LABELS_CHUNK]
        for pk, number, external in Order.objects.filter(pk__in=chunk).values_list(
            "pk", "order_number", "external_id"
        ):
            labels[pk] = number or external
    findings = []
    for v in flagged:
        label = labels.get(v.order_id) or str(v.order_id)
        key = (
            f"settlement:chargeback:{v.order_id}"
            if v.reason == "chargeback"
            else f"settlement:{batch.pk}:{v.reason}:{v.order_id}:{v.side}"
        )
        findings.append(
            Finding(
                key=key,
                reason=v.reason,
                text=f"{batch}: order {label}, {REASONS[v.reason]}"
                + (f" ({v.variance:+.2f} {batch.currency})" if v.variance else ""),
                object_type="order",
                object_id=str(v.order_id),
                object_label=label,
                details={"batch": batch.pk, "side": v.side, "variance": str(v.variance)},
            )
        )
    unknown = (
        SettlementLine.objects.filter(batch=batch, outcome=Outcome.UNMATCHED, reason="no_order")
        .values("order_ref", "payment_ref")
        .annotate(first=Min("id"), net=Sum("net"), line=Count("id"))
        .order_by()
    )
    for row in unknown:
        ref = row["order_ref"] or row["payment_ref"] or "(no reference)"
        first = row["first"]
        findings.append(
            Finding(
                key=f"settlement:{batch.pk}:no_order:{ref}",
                reason="no_order",
                text=f"{batch}: {ref}, {REASONS['no_order']} ({row['line']} lines, "
                f"{row['net']:.2f} {batch.currency})",
                object_type="settlement_line",
                object_id=str(first),
                object_label=ref,
                details={"batch": batch.pk, "lines": row["line"], "net": str(row["net"])},
            )
        )
    return findings


def _chargebacks_reversed(order_ids: Sequence[int], *, now: datetime) -> None:
    """A chargeback whose reversal brought the money back needs no answer any more."""
    keys = [f"settlement:chargeback:{order_id}" for order_id in order_ids]
    for start in range(0, len(keys), 1000):
        ExceptionItem.objects.filter(
            status=ExceptionItem.Status.OPEN, dedupe_key__in=keys[start : start + 1000]
        ).update(
            status=ExceptionItem.Status.RESOLVED,
            resolved_at=now,
            resolution="The chargeback was reversed: the money came back.",
        )


def _kind_totals(figures: Sequence[Figure]) -> tuple[KindTotal, ...]:
    kinds: dict[str, list[Figure]] = {}
    for f in figures:
        kinds.setdefault(f.kind, []).append(f)
    return tuple(
        KindTotal(
            kind,
            sum((f.gross for f in these), Decimal(0)),
            sum((f.fee for f in these), Decimal(0)),
            sum((f.net for f in these), Decimal(0)),
            sum(f.lines for f in these),
        )
        for kind, these in sorted(kinds.items())
    )


def _expectations_settle(*, now: datetime) -> None:
    """Every expectation of a judged order and side takes its verdict (a split tender's parts
    alike), and an overdue one that arrived is no longer overdue: two statements."""
    expected = ExpectedSettlement._meta.db_table
    exceptions = ExceptionItem._meta.db_table
    judged = f"""
        SELECT e.id, CASE v.outcome WHEN 'matched' THEN 'settled' ELSE 'variance' END AS status
        FROM {expected} e JOIN {VERDICTS} v ON v.order_id = e.order_id
         AND v.side = CASE e.kind WHEN 'charge' THEN 'sale' ELSE 'refund' END
        WHERE v.outcome IN ('matched', 'variance')
    """
    with connection.cursor() as cursor:
        # Joined to the verdicts directly, not through `judged` by id: that looked each of
        # 200,000 expectations up again by its key.
        cursor.execute(
            f"""
            UPDATE {expected} AS e
            SET status = CASE v.outcome WHEN 'matched' THEN 'settled' ELSE 'variance' END
            FROM {VERDICTS} v
            WHERE v.order_id = e.order_id AND v.outcome IN ('matched', 'variance')
              AND v.side = CASE e.kind WHEN 'charge' THEN 'sale' ELSE 'refund' END
            """
        )
        overdue = ExceptionItem.objects.filter(
            status=ExceptionItem.Status.OPEN, kind="settlement_overdue"
        )
        if not overdue.exists():  # the usual case: nothing to look up for a million lines
            return
        # From the few open exceptions to the judged expectations, not the other way round
        # (an `IN` over every judged id took minutes at a million lines).
        cursor.execute(
            f"""
            UPDATE {exceptions} SET status = 'resolved', resolved_at = %s,
                   resolution = 'The money arrived after its payout lag.'
            FROM ({judged}) j
            WHERE {exceptions}.status = 'open' AND {exceptions}.kind = 'settlement_overdue'
              AND j.status = 'settled'
              AND {exceptions}.dedupe_key = 'settlement_overdue:' || CAST(j.id AS varchar(20))
            """,
            [now],
        )


def _judge(
    batch: SettlementBatch, settings: ProviderSettings, source: str, staged: int | None
) -> tuple[dict[str, int], Judged]:
    """Link, judge and write the batch's lines; `staged` of them when they go in from
    `source`. Some already known (the INSERT left them out): judged again over those kept."""
    counts = links_find(batch, settings, source)
    judged = verdicts_judge(batch, settings, source)
    analyze(VERDICTS)
    written = _apply(batch, source)
    if source != LINE and staged is not None and written < staged:
        links_drop()
        verdicts_drop()
        return _judge(batch, settings, LINE, None)
    return counts, judged


def batch_match(
    batch: SettlementBatch,
    *,
    now: datetime,
    user: Any = None,
    source: str = LINE,
    staged: int | None = None,
) -> MatchRun:
    """One run of the rules over one batch: over its lines kept, or (`source` staging.FRESH)
    over a new batch's `staged` lines, which go in with their outcomes."""
    settings = provider_settings(batch.provider)
    by = user if user is not None and user.is_authenticated else None
    run = MatchRun.objects.create(batch=batch, started_at=now, by=by)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The hash joins of a million lines to their links and verdicts, in memory rather
            # than spilled in batches to disk (the default is 4 MB); this transaction only.
            # No JIT: compiling the large joins' plans took 0.8 s of each, more than it saved.
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL work_mem = '{MATCH_WORK_MEM}'")
                cursor.execute("SET LOCAL jit = off")
        counts: dict[str, int] = {}
        if not batch.is_statement:
            if source == LINE and batch.matched_at is not None:  # a re-run: a blank page
                SettlementLine.objects.filter(batch=batch, manual=False).update(
                    outcome=Outcome.UNMATCHED, order=None, expected=None, rule="", reason=""
                )
            counts, judged = _judge(batch, settings, source, staged)
            _expectations_settle(now=now)
            links_drop()
            verdicts_drop()
            _chargebacks_reversed(judged.reversed_chargebacks, now=now)
            findings = _findings(batch, judged.flagged)
        else:
            findings = []
        figures = batches_totals([batch.pk]).get(batch.pk, [])
        batch.refresh_from_db()
        if not batch.is_statement and abs(batch.variance) > settings.amount_tolerance:
            findings.append(
                Finding(
                    key=f"settlement:{batch.pk}:payout_variance",
                    reason="payout_variance",
                    text=f"{batch}: {REASONS['payout_variance']}: paid "
                    f"{batch.payout_amount:.2f}, lines {batch.net:.2f} {batch.currency}",
                    object_type="settlement_batch",
                    object_id=str(batch.pk),
                    object_label=batch.key,
                    details={"variance": str(batch.variance)},
                )
            )
        findings_raise(
            findings, channel=batch.channel, now=now, stale_prefixes=[f"settlement:{batch.pk}:"]
        )
        outcomes: dict[str, int] = {}
        for f in figures:
            outcomes[f.outcome] = outcomes.get(f.outcome, 0) + f.lines
        run.counts = {"rules": counts, "outcomes": outcomes, "exceptions": len(findings)}
        run.finished_at = now
        run.save(update_fields=["counts", "finished_at"])
        batch.matched_at = now
        batch.save(update_fields=["matched_at"])
        if not batch.is_statement:
            events_record(
                [
                    contract_event(
                        SettlementBatchMatched(
                            batch_id=batch.pk,
                            run_id=run.pk,
                            provider=batch.provider,
                            key=batch.key,
                            channel=batch.channel.code if batch.channel else "",
                            legal_entity=batch.legal_entity.code if batch.legal_entity else "",
                            currency=batch.currency,
                            payout_amount=batch.payout_amount or Decimal(0),
                            net=batch.net,
                            variance=batch.variance,
                            deposit_date=batch.deposit_date,
                            matched=batch.matched,
                            unmatched=batch.unmatched,
                            totals=_kind_totals(figures),
                        ),
                        aggregate_type="settlement_batch",
                        aggregate_id=batch.pk,
                    )
                ],
                now=now,
            )
    return run


def batches_match(
    batch_ids: Sequence[int],
    *,
    now: datetime,
    source: str = LINE,
    staged: dict[int, int] | None = None,
) -> dict[str, int]:
    """Match an upload's batches (their lines kept, or still staged: `batch_match`), then
    payouts to deposits; the upload's summary counts."""
    batches = list(
        SettlementBatch.objects.filter(pk__in=batch_ids).select_related("channel__legal_entity")
    )
    outcomes: Counter[str] = Counter()
    for batch in batches:
        run = batch_match(batch, now=now, source=source, staged=(staged or {}).get(batch.pk, 0))
        outcomes.update(run.counts["outcomes"])
    # The rest of a split payment arriving in this upload completes what an earlier batch left
    # `split_incomplete`: that batch is matched again (once), now that it can see the rest.
    waiting = (
        SettlementLine.objects.filter(reason="split_incomplete", manual=False)
        .filter(
            order_id__in=SettlementLine.objects.filter(batch_id__in=batch_ids).values("order_id")
        )
        .exclude(batch_id__in=batch_ids)
        .values_list("batch_id", flat=True)
        .distinct()
    )
    for batch in SettlementBatch.objects.filter(pk__in=list(waiting)):
        batch_match(batch, now=now)
    deposits_match(now=now)
    if any(b.is_statement for b in batches):  # deposits matched its lines since its run
        outcomes = Counter(
            dict(
                SettlementLine.objects.filter(batch_id__in=batch_ids)
                .values_list("outcome")
                .annotate(n=Count("id"))
                .order_by()
            )
        )
    # Otherwise as each batch's run counted them (a million lines not counted twice): neither
    # the split re-runs nor the deposits touch them.
    return {
        "lines": sum(outcomes.values()),
        "matched": outcomes[Outcome.MATCHED] + outcomes[Outcome.VARIANCE],
        "unmatched": outcomes[Outcome.UNMATCHED],
        "variance": outcomes[Outcome.VARIANCE],
        "duplicate": outcomes[Outcome.DUPLICATE],
    }
