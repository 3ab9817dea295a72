"""Reads for the return pages: where the goods of a return are, and where they will arrive."""

from __future__ import annotations

from django.contrib.auth.models import User

from inventory.models import Location
from orders.models import Shipment

from .models import Return, ReturnDesk, ReturnLine


def receiving_location(ret: Return, person: User | None) -> str:
    """Where the receive form starts: the person's own store, else the order's fulfilment
    location, else where the returned lines last shipped from; "" when none is a location we
    know (the person must choose)."""
    desk = ReturnDesk.objects.filter(user=person).values_list("location__code", flat=True)
    shipped = (
        Shipment.objects.filter(order_id=ret.order_id, lines__line__return_lines__ret_id=ret.pk)
        .order_by("-shipped_at", "-pk")
        .values_list("location", flat=True)
    )
    candidates = [*desk, ret.order.fulfilment_location, *shipped]
    known = set(
        Location.objects.filter(code__in=candidates, is_active=True).values_list("code", flat=True)
    )
    return next((code for code in candidates if code in known), "")


def received_at(line: ReturnLine) -> str:
    """ "1 at WH1, 1 at STORE1": the line's parcels by location, in the order they came."""
    by_place: dict[str, int] = {}
    for r in line.receipts.all():
        by_place[r.location.code] = by_place.get(r.location.code, 0) + r.quantity
    return ", ".join(f"{n} at {code}" for code, n in by_place.items())


def waiting_at(line: ReturnLine) -> str:
    """Units still to inspect by location: "1 at WH1"."""
    by_place: dict[str, int] = {}
    for r in line.receipts.all():
        if r.waiting:
            by_place[r.location.code] = by_place.get(r.location.code, 0) + r.waiting
    return ", ".join(f"{n} at {code}" for code, n in by_place.items())
