"""Back-office pages for orders: the list with filters and one order with everything about it."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from retailsync.core.registry import order_panels
from retailsync.core.selectors import trace_timeline
from retailsync.core.views import staff_required, trace_linked

from .models import Order
from .selectors import OrderFilter, order_raw_messages, orders_with_details


@staff_required
def order_list(request: HttpRequest) -> HttpResponse:
    filtered = OrderFilter(
        request.GET, queryset=Order.objects.select_related("channel").order_by("-placed_at", "-pk")
    )
    page = Paginator(filtered.qs, 50).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "orders/list.html",
        {
            "filter": filtered,
            "page": page,
            "query": params.urlencode(),
            "statuses": Order.Status.choices,
        },
    )


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
