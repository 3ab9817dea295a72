"""Reads of canonical orders for pages and dashboards."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Sum

from .models import Order


def orders_summary() -> list[dict[str, Any]]:
    """Orders and value per channel, status and currency: the home page's table."""
    return list(
        Order.objects.values("channel__code", "status", "currency")
        .annotate(n=Count("pk"), value=Sum("total"))
        .order_by("channel__code", "status", "currency")
    )
