"""Every write to stock: master data, allocation rules, and stock events applied exactly once.

Positions change only here, in `inventory.reservations` and in `inventory.backorders`, always
through the ledger.

- ledger.py: positions locked in key order, the ledger of movements, items marked for refresh
- master_data.py: locations, items and bundles, allocation rules, the webhook signing secret
- stock_events.py: stock events applied exactly once, and batches queued for a worker
"""

from .ledger import (
    QUANTITY_FIELDS,
    Ledger,
    enqueue_refresh,
    mark_dirty,
    positions_locked,
    quantities,
)
from .master_data import (
    allocation_set,
    channel_webhook_secret,
    item_upsert,
    location_upsert,
    webhook_secret_issue,
)
from .stock_events import (
    EventInput,
    EventsRefused,
    EventsResult,
    event_batch_queue,
    event_batch_run,
    event_batches_requeue,
    stock_events_apply,
)

__all__ = [
    "QUANTITY_FIELDS",
    "EventInput",
    "EventsRefused",
    "EventsResult",
    "Ledger",
    "allocation_set",
    "channel_webhook_secret",
    "enqueue_refresh",
    "event_batch_queue",
    "event_batch_run",
    "event_batches_requeue",
    "item_upsert",
    "location_upsert",
    "mark_dirty",
    "positions_locked",
    "quantities",
    "stock_events_apply",
    "webhook_secret_issue",
]
