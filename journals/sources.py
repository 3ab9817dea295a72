"""What a journal line's sources are called and where their pages are, as finance knows them:
an order by its number (`#1001`, else the channel's id), a settlement line as its provider and
line key, a payout as its provider and key, a return as `RMA-n`. One query per type of source
on the page, whatever the number of sources shown."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.urls import reverse

from orders.models import Order, Shipment
from returns.models import Return
from settlements.models import SettlementBatch, SettlementLine

from .models import JournalLineSource, SourceType

TYPE_WORDS: dict[str, str] = {
    SourceType.ORDER: "order",
    SourceType.SHIPMENT: "shipment",
    SourceType.SETTLEMENT_LINE: "settlement line",
    SourceType.SETTLEMENT_BATCH: "payout",
    SourceType.RETURN: "return",
}


@dataclass(frozen=True, slots=True)
class Named:
    label: str
    url: str | None  # None: the record is gone


@dataclass(frozen=True, slots=True)
class SourceShown:
    type: str
    type_words: str
    id: int
    label: str
    url: str | None
    amount: Decimal


def _orders(ids: list[int]) -> dict[int, Named]:
    rows = Order.objects.filter(pk__in=ids).values_list("pk", "order_number", "external_id")
    return {
        pk: Named(number or external, reverse("order-detail-page", args=[pk]))
        for pk, number, external in rows
    }


def _shipments(ids: list[int]) -> dict[int, Named]:
    rows = Shipment.objects.filter(pk__in=ids).values_list(
        "pk", "order_id", "order__order_number", "order__external_id"
    )
    return {
        pk: Named(
            f"shipment {pk} of {number or external}", reverse("order-detail-page", args=[order])
        )
        for pk, order, number, external in rows
    }


def _settlement_lines(ids: list[int]) -> dict[int, Named]:
    rows = SettlementLine.objects.filter(pk__in=ids).values_list("pk", "provider", "line_key")
    return {
        pk: Named(f"{provider} {key}", reverse("settlement-line-page", args=[pk]))
        for pk, provider, key in rows
    }


def _batches(ids: list[int]) -> dict[int, Named]:
    rows = SettlementBatch.objects.filter(pk__in=ids).values_list("pk", "provider", "key")
    return {
        pk: Named(f"{provider} {key}", reverse("settlement-batch-page", args=[pk]))
        for pk, provider, key in rows
    }


def _returns(ids: list[int]) -> dict[int, Named]:
    rows = Return.objects.filter(pk__in=ids).values_list("pk", flat=True)
    return {pk: Named(f"RMA-{pk}", reverse("return-detail-page", args=[pk])) for pk in rows}


_NAMERS: dict[str, Callable[[list[int]], dict[int, Named]]] = {
    SourceType.ORDER: _orders,
    SourceType.SHIPMENT: _shipments,
    SourceType.SETTLEMENT_LINE: _settlement_lines,
    SourceType.SETTLEMENT_BATCH: _batches,
    SourceType.RETURN: _returns,
}


def sources_shown(sources: Iterable[JournalLineSource]) -> list[SourceShown]:
    """The sources as a person reads them, in the order given."""
    listed = list(sources)
    wanted: dict[str, set[int]] = defaultdict(set)
    for s in listed:
        wanted[s.source_type].add(s.source_id)
    named: dict[tuple[str, int], Named] = {}
    for kind, ids in wanted.items():
        namer = _NAMERS.get(kind)  # TextChoices members are their str values
        for pk, found in (namer(sorted(ids)) if namer else {}).items():
            named[(kind, pk)] = found
    shown = []
    for s in listed:
        words = TYPE_WORDS.get(s.source_type, s.source_type)
        name = named.get((s.source_type, s.source_id))
        shown.append(
            SourceShown(
                type=s.source_type,
                type_words=words,
                id=s.source_id,
                label=name.label if name else f"{words} {s.source_id} (no longer exists)",
                url=name.url if name else None,
                amount=s.amount,
            )
        )
    return shown
