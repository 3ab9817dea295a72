"""Every write to canonical orders, one transaction each, recording domain events in it.

- `receive`: an order message from a channel: kept first, then the pipeline; the common case in
  one statement (`insert_one`, from the rows of `rows`);
- `ingest`: payloads adapted, validated and saved, set-based;
- `update`: changes to orders we know (redelivery, update, stale version);
- `fulfilment`: shipments and cancellations;
- `outcomes`: what each payload's ingestion answers, and the rejections left for a person;
- `events`: the payloads of the events orders publish.
"""

from .fulfilment import LineRequest, order_cancel, shipment_create
from .ingest import content_hash, orders_ingest
from .outcomes import (
    CREATED,
    DUPLICATE,
    REJECTED,
    RESOLVED_ON_ACCEPT,
    UPDATED,
    IngestOutcome,
)
from .receive import (
    BATCH_MAX,
    order_message_process,
    order_message_replay,
    order_receive,
    parse_json,
)

__all__ = [
    "BATCH_MAX",
    "CREATED",
    "DUPLICATE",
    "REJECTED",
    "RESOLVED_ON_ACCEPT",
    "UPDATED",
    "IngestOutcome",
    "LineRequest",
    "content_hash",
    "order_cancel",
    "order_message_process",
    "order_message_replay",
    "order_receive",
    "orders_ingest",
    "parse_json",
    "shipment_create",
]
