"""Delivery of an entry to its legal entity's ERP: one attempt at a time, outside any
transaction, each written to the delivery log.

Which adapter: `LegalEntity.erp`, looked up in `settings.JOURNAL_ERP_ADAPTERS` (name → dotted
path of a class, for an ERP of your own) and then among `journals.erp`'s. Credentials:
`ERP_<LEGAL ENTITY>_URL`, `ERP_<LEGAL ENTITY>_TIMEOUT` and any other `ERP_<LEGAL ENTITY>_<NAME>`
(token, client id, company …) from the environment, else the legal entity's `ErpConnection` in
the admin. The entry's number is the idempotency key: a redelivery never makes a second ERP
document.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import cast

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils.module_loading import import_string

from retailsync.core.money import quantize
from retailsync.core.services import exception_raise, exception_resolve_open

from ..erp import adapter_for as erp_adapter_for
from ..erp.base import Credentials, Delivery, ErpAdapter, ErpJournal, ErpLine
from ..models import DeliveryLog, ErpConnection, JournalEntry
from .lifecycle import entry_locked

logger = logging.getLogger(__name__)
S = JournalEntry.Status
FAILED = "journal_delivery_failed"


class NoAdapter(LookupError):
    pass


def adapter_for(name: str) -> ErpAdapter:
    configured: dict[str, str] = getattr(settings, "JOURNAL_ERP_ADAPTERS", {}) or {}
    if name in configured:
        return cast(ErpAdapter, import_string(configured[name])())
    if not name:
        raise NoAdapter("the legal entity names no ERP (LegalEntity.erp)")
    try:
        return erp_adapter_for(name)
    except LookupError as exc:
        raise NoAdapter(str(exc).strip("'\"")) from None


def env_prefix(code: str) -> str:
    return "ERP_" + re.sub(r"[^A-Z0-9]", "_", code.upper()) + "_"


def credentials_for(legal_entity_id: int, code: str) -> Credentials | None:
    prefix = env_prefix(code)
    url = os.environ.get(prefix + "URL", "")
    if url:
        values = {
            name[len(prefix) :].lower(): value
            for name, value in os.environ.items()
            if name.startswith(prefix) and name not in (prefix + "URL", prefix + "TIMEOUT")
        }
        timeout = float(os.environ.get(prefix + "TIMEOUT") or 10.0)
        return Credentials(base_url=url, values=values, timeout=timeout)
    row = ErpConnection.objects.filter(legal_entity_id=legal_entity_id).first()
    if row is None:
        return None
    values = {str(k): str(v) for k, v in (row.values or {}).items()}
    return Credentials(base_url=row.base_url, values=values, timeout=row.timeout)


def erp_lines(entry: JournalEntry) -> tuple[ErpLine, ...]:
    """The lines rounded to the currency's minor unit (once, here at the edge); what rounding
    costs the balance goes to the largest line of the side that needs it."""
    c = entry.currency
    lines = list(entry.lines.select_related("account").order_by("pk"))
    rounded = [(quantize(x.debit, c), quantize(x.credit, c)) for x in lines]
    gap = sum((d - cr for d, cr in rounded), Decimal(0))
    if gap and rounded:
        side = 1 if gap > 0 else 0  # debits over: add to the largest credit, and vice versa
        i = max(range(len(rounded)), key=lambda k: rounded[k][side])
        d, cr = rounded[i]
        rounded[i] = (d, cr + gap) if side else (d - gap, cr)
    return tuple(
        ErpLine(
            account=x.account.erp_account_id or x.account.code,
            debit=d,
            credit=cr,
            description=x.description or x.account.name,
            dimensions={k: str(v) for k, v in (x.dimensions or {}).items()},
        )
        for x, (d, cr) in zip(lines, rounded, strict=True)
    )


def erp_journal(entry: JournalEntry, credentials: Credentials | None) -> ErpJournal:
    company = (credentials.values.get("legal_entity") if credentials else None) or (
        entry.legal_entity.code
    )
    parts = [entry.channel.code if entry.channel else "", entry.payment_method]
    reversed_doc = entry.reversal_of.erp_document_id if entry.reversal_of else ""
    return ErpJournal(
        idempotency_key=entry.number or f"entry-{entry.pk}",
        legal_entity=company,
        posting_date=entry.posting_date,
        currency=entry.currency,
        description=" ".join(
            ["retailsync", *[p for p in parts if p], entry.posting_date.isoformat()]
        ),
        reference=entry.number or "",
        lines=erp_lines(entry),
        reversal_of=reversed_doc,
    )


@dataclass(frozen=True, slots=True)
class Attempt:
    outcome: str  # posted, retry, failed, skipped
    delay: float = 0.0


def journal_entry_deliver(*, entry_id: int, attempt: int, now: datetime) -> Attempt:
    """One attempt. `retry` says when to try again (backoff doubling from
    JOURNAL_DELIVERY_BACKOFF_SECONDS) until JOURNAL_DELIVERY_TRIES; then the entry is failed and
    an exception waits for a person, who posts it again once the cause is fixed."""
    entry = JournalEntry.objects.select_related("legal_entity", "channel", "reversal_of").get(
        pk=entry_id
    )
    if entry.status != S.POSTING:
        return Attempt("skipped")
    name = entry.legal_entity.erp
    credentials = credentials_for(entry.legal_entity_id, entry.legal_entity.code)
    delivery = _attempt(name, entry, credentials)
    tries = int(settings.JOURNAL_DELIVERY_TRIES)
    with transaction.atomic():
        entry = entry_locked(entry_id)
        if entry.status != S.POSTING:
            return Attempt("skipped")
        number = (entry.deliveries.aggregate(n=Max("attempt"))["n"] or 0) + 1
        DeliveryLog.objects.create(
            entry=entry,
            attempt=number,
            adapter=name,
            request=delivery.request,
            response=delivery.response,
            document_id=delivery.document_id,
            ok=delivery.ok,
            retry=delivery.retry,
            error=delivery.error,
            at=now,
        )
        if delivery.ok:
            entry.status, entry.posted_at = S.POSTED, now
            entry.erp_document_id = delivery.document_id
            entry.save(update_fields=["status", "posted_at", "erp_document_id"])
            exception_resolve_open(
                dedupe_key=f"{FAILED}:{entry.pk}", resolution="Posted on a later try.", now=now
            )
            return Attempt("posted")
        if delivery.retry and attempt < tries:
            delay = float(settings.JOURNAL_DELIVERY_BACKOFF_SECONDS) * 2 ** (attempt - 1)
            return Attempt("retry", delay)
        entry.status, entry.updated_at = S.FAILED, now
        entry.save(update_fields=["status", "updated_at"])
        exception_raise(
            kind=FAILED,
            reason=f"{entry} did not reach {name or 'its ERP'} after {attempt} "
            f"{'try' if attempt == 1 else 'tries'}: {delivery.error or 'refused'}",
            details={"attempts": number, "error": delivery.error},
            object_type="journal_entry",
            object_id=entry.pk,
            object_label=str(entry),
            channel=entry.channel,
            dedupe_key=f"{FAILED}:{entry.pk}",
            now=now,
        )
    return Attempt("failed")


def _attempt(name: str, entry: JournalEntry, credentials: Credentials | None) -> Delivery:
    if credentials is None:
        return Delivery(
            ok=False,
            error=f"no ERP credentials for {entry.legal_entity.code}: set "
            f"{env_prefix(entry.legal_entity.code)}URL (and its token) or an ERP connection "
            "in the admin",
        )
    try:
        adapter = adapter_for(name)
    except NoAdapter as exc:
        return Delivery(ok=False, error=str(exc))
    journal = erp_journal(entry, credentials)
    try:
        return adapter.deliver(journal, credentials)
    except Exception as exc:  # an adapter must answer, not raise: a person looks at it
        logger.exception("ERP adapter %s raised on %s", name, entry)
        return Delivery(ok=False, error=f"the adapter failed: {type(exc).__name__}: {exc}")


def deliveries_stalled(*, older_than: datetime) -> list[int]:
    """Entries handed to their ERP whose delivery went quiet (a worker died): to try again."""
    return list(
        JournalEntry.objects.filter(status=S.POSTING, updated_at__lt=older_than)
        .annotate(last=Max("deliveries__at"))
        .exclude(last__gte=older_than)
        .values_list("pk", flat=True)
    )
