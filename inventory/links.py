"""What inventory's exceptions mean, in words, for the exception queue."""

from __future__ import annotations

from retailsync.core.registry import register_reasons

REASONS = {
    "backorder": "not enough stock to reserve an order's line: it waits for stock",
    "unknown_sku": "an order sells a SKU the item master lacks",
    "shipment_without_stock": "a shipment took units the stock did not show",
    "stock_event_refused": "a warehouse, store or 3PL event was refused",
    "unmapped_location": "a channel's location is not mapped to one of ours: units wait",
    "availability_lag": "the availability feed lags behind stock changes",
}


def register() -> None:
    register_reasons("inventory", REASONS)
