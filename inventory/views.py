"""Back-office pages for operations: stock by item and location, an item's ledger, and what
each channel may sell with the rule that shaped it."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from retailsync.core.tables import Listing, listing
from retailsync.core.views import staff_required

from .models import Item, Location, StockMovement
from .selectors import channel_figures, item_ledger_of, positions_find, positions_totals
from .tables import LedgerFilter, LedgerTable


@staff_required
def stock(request: HttpRequest) -> HttpResponse:
    sku = request.GET.get("sku", "").strip()
    location = request.GET.get("location", "").strip()
    positions = positions_find(sku=sku, location=location, sku_exact=False)
    page = Paginator(positions, 100).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "inventory/stock.html",
        {
            "page": page,
            "totals": positions_totals(positions),
            "sku": sku,
            "location": location,
            "locations": Location.objects.order_by("code"),
            "query": params.urlencode(),
        },
    )


@staff_required
def item_ledger(request: HttpRequest, sku: str) -> HttpResponse:
    item = get_object_or_404(Item, sku=sku)
    ledger = item_ledger_of(item)
    filtered = LedgerFilter(request.GET, queryset=ledger.movements)
    shown = listing(
        request,
        filtered=filtered,
        table_class=LedgerTable,
        filename=f"ledger-{sku}",
        exclude=("sku",),  # the page is the item's
    )
    if not isinstance(shown, Listing):
        return shown
    return render(
        request,
        "inventory/item.html",
        {
            "item": item,
            "positions": ledger.positions,
            "table": shown.table,
            "filter": filtered,
            "reservations": ledger.reservations,
        },
    )


@staff_required
def stock_ledger(request: HttpRequest) -> HttpResponse:
    """Every movement of every item: what moved stock, where, why and for which order."""
    movements = StockMovement.objects.select_related("item", "location").order_by(
        "-recorded_at", "-pk"
    )
    filtered = LedgerFilter(request.GET, queryset=movements)
    shown = listing(request, filtered=filtered, table_class=LedgerTable, filename="stock-ledger")
    if not isinstance(shown, Listing):
        return shown
    return render(request, "inventory/ledger.html", {"table": shown.table, "filter": filtered})


@staff_required
def availability(request: HttpRequest) -> HttpResponse:
    sku = request.GET.get("sku", "").strip()
    figures = channel_figures(channel=request.GET.get("channel") or "", sku=sku)
    return render(
        request,
        "inventory/availability.html",
        {
            "channels": figures.channels,
            "code": figures.code,
            "sku": sku,
            "allocation": figures.allocation,
            "summary": figures.summary,
            "page": Paginator(figures.rows, 100).get_page(request.GET.get("page")),
            "query": f"channel={figures.code}&sku={sku}",
        },
    )
