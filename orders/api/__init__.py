"""Order endpoints (API.md), one module per part: `ingest` (channels post orders), `reads`
(staff list and detail), `fulfilment` (shipments, cancellations)."""

from .fulfilment import OrderCancelApi, OrderShipmentCreateApi
from .ingest import OrderBatchIngestApi, OrderIngestApi
from .reads import OrderDetailApi, OrderListApi, OrderOutput, ShipmentOutput, amount, unit_amount

__all__ = [
    "OrderBatchIngestApi",
    "OrderCancelApi",
    "OrderDetailApi",
    "OrderIngestApi",
    "OrderListApi",
    "OrderOutput",
    "OrderShipmentCreateApi",
    "ShipmentOutput",
    "amount",
    "unit_amount",
]
