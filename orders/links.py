"""Orders as people know them, for the exception queue, the trace and stock ledger references:
an order by its channel's number (`WS-6018`, `#1001`), else its external id, never our row id."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Q
from django.urls import reverse

from retailsync.core.registry import (
    ObjectLink,
    register_object_link,
    register_object_search,
    register_reasons,
)

from .models import Order, Shipment

REASONS = {
    "order_rejected": "an order failed validation and was not accepted",
    "ingest_failed": "the order pipeline failed on a message: fix the cause, then replay it",
}
SEARCH_LIMIT = 200


def _ids(ids: Sequence[str]) -> list[int]:
    return [int(i) for i in ids if i.isdigit() and len(i) < 19]


def order_name(order_number: str, external_id: str) -> str:
    return order_number or external_id


def orders_linked(ids: Sequence[str]) -> dict[str, ObjectLink]:
    rows = Order.objects.filter(pk__in=_ids(ids)).values_list("pk", "order_number", "external_id")
    return {
        str(pk): ObjectLink(reverse("order-detail-page", args=[pk]), order_name(number, ext))
        for pk, number, ext in rows
    }


def shipments_linked(ids: Sequence[str]) -> dict[str, ObjectLink]:
    rows = Shipment.objects.filter(pk__in=_ids(ids)).values_list(
        "pk", "order_id", "order__order_number", "order__external_id"
    )
    return {
        str(pk): ObjectLink(
            reverse("order-detail-page", args=[order_id]),
            f"shipment {pk} of {order_name(number, ext)}",
        )
        for pk, order_id, number, ext in rows
    }


def orders_named(text: str) -> list[str]:
    """Orders whose number or external id is `text` (`#1001` or `1001`)."""
    text = text.strip()
    if not text:
        return []
    bare = text.lstrip("#")
    found = Order.objects.filter(
        Q(order_number__iexact=text)
        | Q(order_number__iexact=f"#{bare}")
        | Q(external_id=text)
        | Q(external_id=bare)
    )
    return [str(pk) for pk in found.values_list("pk", flat=True)[:SEARCH_LIMIT]]


def register() -> None:
    register_reasons("orders", REASONS)
    register_object_link("order", orders_linked)
    register_object_link("shipment", shipments_linked)
    register_object_search("order", orders_named)
