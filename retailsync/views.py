"""The overview page: what every app has, side by side (the composition root may read them all)."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from .core.models import Channel, ExceptionItem, InboundMessage
from .core.views import staff_required


@staff_required
def home(request: HttpRequest) -> HttpResponse:
    from inventory.models import ChannelLocation
    from orders.selectors import orders_summary

    open_exceptions = ExceptionItem.objects.filter(status=ExceptionItem.Status.OPEN)
    # Each channel's locations in priority order: a channel without any backorders every order.
    feeding: dict[int, list[str]] = {}
    for channel_id, code in ChannelLocation.objects.order_by("priority", "pk").values_list(
        "allocation__channel_id", "location__code"
    ):
        feeding.setdefault(channel_id, []).append(code)
    channels = list(Channel.objects.select_related("legal_entity").order_by("code"))
    for channel in channels:
        channel.locations = feeding.get(channel.pk, [])  # type: ignore[attr-defined]
    now = timezone.now()
    from .overview import currency_totals, exception_cards, money_cards

    return render(
        request,
        "home.html",
        {
            "exception_cards": exception_cards(now),
            "money_cards": money_cards(),
            "currencies": currency_totals(timezone.localdate(now)),
            "orders": orders_summary(),
            "open_exceptions": open_exceptions.count(),
            "exceptions_by_kind": open_exceptions.values("kind")
            .annotate(n=Count("pk"))
            .order_by("-n"),
            "messages_by_status": InboundMessage.objects.values("status")
            .annotate(n=Count("pk"))
            .order_by("status"),
            "channels": channels,
            "unallocated": [c for c in channels if c.pk not in feeding],
        },
    )
