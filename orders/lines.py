"""Writes to an order's lines that other apps ask for: the units a return takes back.

Returns sits above orders and never writes `OrderLine` itself; it calls here. The invariant
"returned ≤ shipped" is the database's (`orderline_never_returns_more_than_shipped`), so
concurrent returns of the same line can never take more than shipped whatever they saw.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.db.models import F

from retailsync.core.errors import BusinessRuleViolation

from .models import OrderLine

RETURNED_WITHIN_SHIPPED = "orderline_never_returns_more_than_shipped"


class ReturnedBeyondShipped(BusinessRuleViolation):
    """More units of a line would be on returns than were shipped."""


def _constraint_of(exc: IntegrityError) -> str:
    """The name of the constraint a write broke: PostgreSQL says it in the error's diagnostics,
    SQLite only in its message."""
    diag = getattr(exc.__cause__, "diag", None)
    return str(getattr(diag, "constraint_name", None) or exc)


def order_lines_returned_add(*, quantities: Mapping[int, int]) -> None:
    """Add units to what is returned of each line (order line id → units; negative gives
    them back, when a return ends without them). All or nothing, in line order (the lock
    order of every multi-line write); more than shipped is `ReturnedBeyondShipped`, and the
    caller's transaction goes on."""
    try:
        with transaction.atomic():
            for line_id in sorted(quantities):
                if quantities[line_id]:
                    OrderLine.objects.filter(pk=line_id).update(
                        quantity_returned=F("quantity_returned") + quantities[line_id]
                    )
    except IntegrityError as exc:
        if RETURNED_WITHIN_SHIPPED not in _constraint_of(exc):
            raise
        raise ReturnedBeyondShipped("more would be returned than was shipped") from None
