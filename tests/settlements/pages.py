"""Batches and lines made directly in the database for the page tests, and readers of what the
pages show. The figures each test expects are worked out by hand beside it."""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.test import Client

from retailsync.core.models import Channel
from retailsync.core.services import user_create
from settlements.batches import batches_totals
from settlements.models import SettlementBatch, SettlementLine, Upload

D = Decimal


@dataclass(frozen=True)
class L:
    """One line: kind, gross, fee (net = gross + fee), and what a test needs of the rest."""

    kind: str
    gross: str
    fee: str = "0"
    order_ref: str = ""
    payment_ref: str = ""
    outcome: str = "unmatched"
    reason: str = ""
    order_id: int | None = None
    posted_at: datetime | None = None
    raw: str = ""


def batch_make(
    key: str,
    lines: list[L],
    *,
    provider: str = "stripe",
    channel: Channel | None = None,
    currency: str = "USD",
    payout: str | None = None,
    deposit_status: str = "pending",
    period: tuple[date, date] | None = None,
    deposit_date: date | None = None,
) -> SettlementBatch:
    digest = hashlib.sha256(key.encode()).hexdigest()
    upload = Upload.objects.create(
        provider=provider, name=f"{key}.csv", sha256=digest, status="done", progress=100
    )
    batch = SettlementBatch.objects.create(
        provider=provider,
        key=key,
        channel=channel,
        legal_entity=channel.legal_entity if channel else None,
        currency=currency,
        payout_amount=D(payout) if payout is not None else None,
        file_hash=digest,
        upload=upload,
        deposit_status=deposit_status,
        period_start=period[0] if period else None,
        period_end=period[1] if period else None,
        deposit_date=deposit_date,
    )
    SettlementLine.objects.bulk_create(
        SettlementLine(
            batch=batch,
            provider=provider,
            line_key=f"{key}-{row}",
            row=row,
            kind=line.kind,
            currency=currency,
            gross=D(line.gross),
            fee=D(line.fee),
            net=D(line.gross) + D(line.fee),
            order_ref=line.order_ref,
            payment_ref=line.payment_ref,
            outcome=line.outcome,
            reason=line.reason,
            order_id=line.order_id,
            posted_at=line.posted_at or datetime(2026, 11, 21, 10, 0, tzinfo=UTC),
            raw=line.raw or f"{key},{line.kind},{line.gross},{line.fee}",
        )
        for row, line in enumerate(lines, start=2)
    )
    batches_totals([batch.pk])
    batch.refresh_from_db()
    return batch


def client_for(role: str, username: str | None = None) -> Client:
    user, _ = user_create(username=username or f"{role}-pages", role=role)
    client = Client()
    client.force_login(user)
    return client


def text(fragment: str) -> str:
    """What a person reads in an HTML fragment: tags dropped, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def row_of(page: str, attribute: str, value: Any) -> str:
    found = re.search(rf'<tr {attribute}="{value}">(.*?)</tr>', page, re.S)
    assert found, f"no row {attribute}={value}"
    return found.group(1)


def figures(row: str) -> dict[str, str]:
    """The `data-figure` cells of a batch row, as read."""
    return {
        name: text(cell)
        for name, cell in re.findall(r'data-figure="([\w-]+)">(.*?)</td>', row, re.S)
    }


def cells(row: str) -> list[str]:
    return [text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
