"""What cannot be reserved, raised as exceptions for a person: backorders (short stock) and
SKUs the item master lacks. The one-statement path of `reserving` words them the same in SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from retailsync.core.services import exception_raise

from .planning import Need, Plan
from .reserving import label


def backorders_raise(
    payload: Mapping[str, Any],
    plan: Plan,
    short: Sequence[tuple[Need, int]],
    correlation_id: str,
    now: datetime,
) -> None:
    """The locked path's backorders; `reserving` words them the same in SQL."""
    order_id = payload["order_id"]
    for need, missing in short:
        exception_raise(
            kind="backorder",
            reason=f"{missing} of {need.quantity} × {need.sku} could not be reserved for "
            f"{label(payload)}" + ("" if plan.location_ids else _no_locations(payload["channel"])),
            details={
                "order_id": order_id,
                "line_id": need.line_id,
                "sku": need.sku,
                "short": missing,
                "requested": need.quantity,
            },
            object_type="order",
            object_id=order_id,
            object_label=label(payload),
            dedupe_key=f"backorder:{need.line_id}:{need.item_id}",
            correlation_id=correlation_id,
            now=now,
        )


def _no_locations(channel: str) -> str:
    return (
        f": channel {channel} has no locations to reserve at. Give it its locations with "
        f"PUT /api/v1/channels/{channel}/allocation or in the admin (Inventory › Channel "
        "allocations); its backorders are then reserved as stock allows"
    )


def unknown_raise(
    payload: Mapping[str, Any], unknown: Sequence[str], correlation_id: str, now: datetime
) -> None:
    """One exception for the order, listing every SKU it sells that the item master lacks:
    a 10,000-line order of unknown SKUs is one thing for a person to fix, not 10,000."""
    if not unknown:
        return
    order_id = payload["order_id"]
    skus = sorted(set(unknown))
    named = ", ".join(repr(sku) for sku in skus[:10])
    more = f" and {len(skus) - 10} more" if len(skus) > 10 else ""
    exception_raise(
        kind="unknown_sku",
        reason=f"{label(payload)} sells {len(skus)} SKU(s) not in the item master: {named}{more}",
        details={"order_id": order_id, "sku": skus[0], "skus": skus, "count": len(skus)},
        object_type="order",
        object_id=order_id,
        dedupe_key=f"unknown_sku:{order_id}",
        object_label=label(payload),
        correlation_id=correlation_id,
        now=now,
    )
