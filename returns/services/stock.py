"""Stock follows the goods of a return through the inventory service: each movement is a stock
event of source `returns`, at the time of the step that made it, applied exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from inventory.models import Location
from inventory.services import EventInput, stock_events_apply
from retailsync.core.errors import BusinessRuleViolation, FieldError

from ..models import Return


def location_of(code: str) -> Location:
    """Our location `code`, where goods arrive (422 when we do not know it)."""
    location = Location.objects.filter(code=code).first() if code else None
    if location is None:
        raise BusinessRuleViolation(f"unknown location {code!r}", field="location")
    return location


def stock_event(
    ret: Return, event_id: str, kind: str, sku: str, location: str, quantity: int, *, now: datetime
) -> EventInput:
    """A stock event of the return `ret`, happening `now`."""
    return EventInput(
        event_id, "returns", kind, sku, location, quantity, now, reference=f"RMA-{ret.pk}"
    )


def stock_follow(events: Sequence[EventInput], *, now: datetime) -> None:
    """Apply the events, all or nothing; a refusal (stock that is not there to move) names
    the location, the field a person can change."""
    if not events:
        return
    try:
        stock_events_apply(events=events, now=now)
    except BusinessRuleViolation as exc:
        raise BusinessRuleViolation(
            [FieldError("location", f"stock could not follow: {e.message}") for e in exc.errors]
        ) from None
