"""A retailer with books: legal entity US01 with the starting chart, a web channel in USD and
one in EUR, items with unit costs, and finance staff. Settlement files go in through
settlements' own loading steps (staging, batches, matching) from parsed records."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from inventory.services import item_upsert, location_upsert
from journals.chart import chart_install
from journals.models import JournalEntry
from retailsync.core.relay import events_dispatch_waiting
from settlements.batches import batches_save, batches_totals
from settlements.matching import batches_match
from settlements.models import SettlementBatch, Upload
from settlements.parsers.base import LineKind, ParsedBatch, ParsedLine
from settlements.staging import lines_commit, staging_create, staging_drop, staging_write
from tests.returns.conftest import two_jurisdiction_order

D = Decimal


@pytest.fixture
def books(make_channel, staff, db):  # type: ignore[no-untyped-def]
    for code, kind in (("WH1", "warehouse"), ("STORE1", "store")):
        location_upsert(code=code, kind=kind)
    for sku, cost in (("JACKET", "30.00"), ("SCARF", "5.00"), ("JACKET-L", "31.00")):
        item_upsert(sku=sku, unit_cost=D(cost), cost_currency="USD")
    web = make_channel(code="web", legal_entity__code="US01")
    chart_install(legal_entity="US01")
    web.ops = staff("operations", username="olga")
    web.finance = staff("finance", username="fred")
    web.finance2 = staff("finance", username="fiona")
    return web


def dispatch() -> None:
    """What the relay would do after commit: every waiting event to its subscribers."""
    events_dispatch_waiting()


def ship(shop: Any, order_id: int, lines: list[dict[str, Any]], when: str) -> None:
    shipped = shop.ops.post(
        f"/api/v1/orders/{order_id}/shipments",
        {"location": "WH1", "shipped_at": when, "lines": lines},
        format="json",
    )
    assert shipped.status_code == 201, shipped.json()


def place(shop: Any, order: dict[str, Any]) -> int:
    response = shop.post_order(order)
    assert response.status_code == 201, response.json()
    return int(response.json()["id"])


def sold(shop: Any, external_id: str = "R-1", when: str = "2026-11-11T10:00:00Z") -> int:
    """The two-jurisdiction order (tests/returns/conftest.py) placed and shipped whole."""
    order_id = place(shop, two_jurisdiction_order(external_id))
    ship(shop, order_id, [{"sku": "JACKET", "quantity": 2}, {"sku": "SCARF", "quantity": 3}], when)
    return order_id


def amounts(entry: JournalEntry) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """(account code, description) → (debit, credit), to the cent."""
    out: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
    for line in entry.lines.select_related("account").order_by("pk"):
        key = (line.account.code, line.description)
        assert key not in out, key
        out[key] = (line.debit.quantize(D("0.01")), line.credit.quantize(D("0.01")))
    return out


def sources_add_up(entry: JournalEntry) -> None:
    for line in entry.lines.all():
        total = sum((s.amount for s in line.sources.all()), D(0))
        assert total == line.debit + line.credit, (line.description, total)
        assert line.sources.exists()


def balanced(entry: JournalEntry) -> bool:
    lines = list(entry.lines.all())
    return sum(x.debit for x in lines) == sum(x.credit for x in lines)


def line(
    key: str,
    kind: LineKind,
    gross: str,
    fee: str = "0",
    *,
    batch: str,
    currency: str = "USD",
    payment_ref: str = "",
    related_ref: str = "",
    order_ref: str = "",
    row: int = 1,
    at: datetime | None = None,
    description: str = "",
) -> ParsedLine:
    g, f = D(gross), D(fee)
    return ParsedLine(
        row=row,
        batch_key=batch,
        line_key=key,
        kind=kind,
        currency=currency,
        gross=g,
        fee=f,
        net=g + f,
        posted_at=at or timezone.make_aware(datetime(2026, 11, 12, 9)),
        order_ref=order_ref,
        payment_ref=payment_ref,
        related_ref=related_ref,
        description=description,
    )


def settle(
    provider: str,
    batches: list[ParsedBatch],
    lines: list[ParsedLine],
    *,
    channel: Any = None,
    now: datetime | None = None,
) -> list[SettlementBatch]:
    """A settlement file's records loaded and matched the way `upload_process` does."""
    now = now or timezone.make_aware(datetime(2026, 11, 14, 8))
    upload = Upload.objects.create(
        provider=provider,
        channel=channel,
        file="none",
        name=f"{batches[0].key}.csv",
        sha256=f"{provider}-{batches[0].key}",
        created_at=now,
    )
    staging_create()
    try:
        staging_write(0, lines)
        with transaction.atomic():
            kept = batches_save(upload, batches, now=now)
            lines_commit(provider)
            batches_totals([b.pk for b in kept])
    finally:
        staging_drop()
    batches_match([b.pk for b in kept], now=now)
    return kept


def payout(key: str, amount: str, deposit: date, currency: str = "USD") -> ParsedBatch:
    return ParsedBatch(key=key, currency=currency, payout_amount=D(amount), deposit_date=deposit)


def entry_of(**where: Any) -> JournalEntry:
    return JournalEntry.objects.get(**where)


def by_currency() -> dict[str, list[JournalEntry]]:
    out: dict[str, list[JournalEntry]] = defaultdict(list)
    for e in JournalEntry.objects.order_by("pk"):
        out[e.currency].append(e)
    return out
