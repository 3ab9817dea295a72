"""The order page's Settlement section: what the providers paid for the order against what was
expected. Registered with the core at start-up (apps.py), since orders may not import us."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string

from orders.models import Order
from retailsync.core.roles import has_role

from .selectors import order_settlement


def order_settlement_panel(request: HttpRequest, *, order_id: int) -> str:
    """Finance's (and admin's) view of the order's money; nothing for other roles."""
    if not has_role(request.user, "finance"):
        return ""
    money = order_settlement(order_id)
    currencies = [e.currency for e in money.expectations] + [ln.currency for ln in money.lines]
    currency = currencies[0] if currencies else None
    if currency is None:
        currency = Order.objects.filter(pk=order_id).values_list("currency", flat=True).first()
    return render_to_string(
        "settlements/order_panel.html",
        {"settlement": money, "currency": currency or ""},
        request=request,
    )
