"""Back-office pages for operations: stock by item and location, an item's ledger, and what
each channel may sell with the rule that shaped it."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from retailsync.core.models import Channel
from retailsync.core.views import staff_required

from .models import ChannelAllocation, ChannelAvailability, Item, Location, Position, Reservation


@staff_required
def stock(request: HttpRequest) -> HttpResponse:
    positions = Position.objects.select_related("item", "location").order_by(
        "item__sku", "location__code"
    )
    sku = request.GET.get("sku", "").strip()
    location = request.GET.get("location", "").strip()
    if sku:
        positions = positions.filter(item__sku__icontains=sku)
    if location:
        positions = positions.filter(location__code=location)
    totals = positions.aggregate(
        on_hand=Sum("on_hand"),
        reserved=Sum("reserved"),
        in_transit=Sum("in_transit"),
        damaged=Sum("damaged"),
        quality_hold=Sum("quality_hold"),
    )
    page = Paginator(positions, 100).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "inventory/stock.html",
        {
            "page": page,
            "totals": totals,
            "sku": sku,
            "location": location,
            "locations": Location.objects.order_by("code"),
            "query": params.urlencode(),
        },
    )


@staff_required
def item_ledger(request: HttpRequest, sku: str) -> HttpResponse:
    item = get_object_or_404(Item, sku=sku)
    movements = item.movements.select_related("location", "event").order_by("-recorded_at", "-pk")
    return render(
        request,
        "inventory/item.html",
        {
            "item": item,
            "positions": item.positions.select_related("location").order_by("location__code"),
            "page": Paginator(movements, 100).get_page(request.GET.get("page")),
            "reservations": Reservation.objects.filter(item=item, status="active")
            .select_related("order", "location")
            .order_by("created_at")[:100],
            "query": "",
        },
    )


@staff_required
def availability(request: HttpRequest) -> HttpResponse:
    channels = Channel.objects.filter(allocation__isnull=False).order_by("code")
    code = request.GET.get("channel") or (channels[0].code if channels else "")
    rows = ChannelAvailability.objects.filter(channel__code=code).select_related("item")
    if sku := request.GET.get("sku", "").strip():
        rows = rows.filter(item__sku__icontains=sku)
    summary = (
        ChannelAvailability.objects.filter(channel__in=channels)
        .values("channel__code")
        .annotate(items=Count("pk"), units=Sum("available"))
        .order_by("channel__code")
    )
    return render(
        request,
        "inventory/availability.html",
        {
            "channels": channels,
            "code": code,
            "sku": sku,
            "allocation": ChannelAllocation.objects.filter(channel__code=code)
            .prefetch_related("locations__location")
            .first(),
            "summary": summary,
            "page": Paginator(rows.order_by("item__sku"), 100).get_page(request.GET.get("page")),
            "query": f"channel={code}&sku={sku}",
        },
    )
