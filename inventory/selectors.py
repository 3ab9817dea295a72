"""Reads of stock for the pages and the API: positions with their totals, an item's ledger,
and what each channel may sell. Querysets stay lazy: the caller pages them."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, QuerySet, Sum

from retailsync.core.models import Channel

from .models import (
    ChannelAllocation,
    ChannelAvailability,
    Item,
    Position,
    Reservation,
    StockMovement,
)


def positions_find(
    *, sku: str = "", location: str = "", sku_exact: bool = True
) -> QuerySet[Position]:
    """Positions by SKU then location code; `sku` matches exactly, or anywhere in the SKU when
    `sku_exact` is off (the stock page's search box)."""
    positions = Position.objects.select_related("item", "location").order_by(
        "item__sku", "location__code"
    )
    if sku:
        positions = positions.filter(**{"item__sku" if sku_exact else "item__sku__icontains": sku})
    if location:
        positions = positions.filter(location__code=location)
    return positions


def positions_totals(positions: QuerySet[Position]) -> dict[str, int | None]:
    """Each quantity summed over the positions (None when there are none)."""
    totals: dict[str, int | None] = positions.aggregate(
        on_hand=Sum("on_hand"),
        reserved=Sum("reserved"),
        in_transit=Sum("in_transit"),
        damaged=Sum("damaged"),
        quality_hold=Sum("quality_hold"),
    )
    return totals


@dataclass(frozen=True, slots=True)
class ItemLedger:
    positions: QuerySet[Position]
    movements: QuerySet[StockMovement]  # newest first
    reservations: QuerySet[Reservation]  # the 100 oldest active


def item_ledger_of(item: Item) -> ItemLedger:
    return ItemLedger(
        positions=item.positions.select_related("location").order_by("location__code"),
        movements=item.movements.select_related("location", "event").order_by(
            "-recorded_at", "-pk"
        ),
        reservations=Reservation.objects.filter(item=item, status="active")
        .select_related("order", "location")
        .order_by("created_at")[:100],
    )


@dataclass(frozen=True, slots=True)
class ChannelFigures:
    channels: QuerySet[Channel]  # those with an allocation, by code
    code: str  # the channel shown: the one asked for, else the first
    allocation: ChannelAllocation | None
    rows: QuerySet[ChannelAvailability]  # by SKU
    summary: QuerySet[ChannelAvailability, dict[str, object]]  # items and units per channel


def channel_figures(*, channel: str = "", sku: str = "") -> ChannelFigures:
    """What a channel may sell, item by item (`sku`: anywhere in the SKU), and per channel."""
    channels = Channel.objects.filter(allocation__isnull=False).order_by("code")
    code = channel or (channels[0].code if channels else "")
    rows = ChannelAvailability.objects.filter(channel__code=code).select_related("item")
    if sku:
        rows = rows.filter(item__sku__icontains=sku)
    return ChannelFigures(
        channels=channels,
        code=code,
        allocation=ChannelAllocation.objects.filter(channel__code=code)
        .prefetch_related("locations__location")
        .first(),
        rows=rows.order_by("item__sku"),
        summary=ChannelAvailability.objects.filter(channel__in=channels)
        .values("channel__code")
        .annotate(items=Count("pk"), units=Sum("available"))
        .order_by("channel__code"),
    )
