"""Back-office pages for orders: the list with filters and one order with everything about it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from retailsync.core.registry import order_panels
from retailsync.core.selectors import trace_timeline
from retailsync.core.tables import Listing, listing
from retailsync.core.views import staff_required, trace_linked

from .models import Order
from .selectors import order_raw_messages, orders_with_details
from .tables import OrderPageFilter, OrderTable


@staff_required
def order_list(request: HttpRequest) -> HttpResponse:
    filtered = OrderPageFilter(
        request.GET, queryset=Order.objects.select_related("channel").order_by("-placed_at", "-pk")
    )
    shown = listing(request, filtered=filtered, table_class=OrderTable, filename="orders")
    if not isinstance(shown, Listing):
        return shown
    return render(request, "orders/list.html", {"filter": filtered, "table": shown.table})


@staff_required
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    order = get_object_or_404(orders_with_details(), pk=pk)
    raw_messages = order_raw_messages(order)
    return render(
        request,
        "orders/detail.html",
        {
            "order": order,
            "raw_messages": raw_messages,
            "changes": order.changes.order_by("at"),
            "trace": trace_linked(trace_timeline(order.correlation_id)),
            # Sections of apps above orders (settlements), registered at start-up.
            "panels": order_panels(request, order_id=order.pk),
        },
    )
