"""Ingestion: channel payloads adapted to canonical orders, validated, and saved, set-based (one
transaction; one statement per table for the new orders of a batch; what exists already goes
one by one through `update`)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from retailsync.core.correlation import ensure_correlation_id
from retailsync.core.errors import FieldError
from retailsync.core.events import NewEvent, events_record
from retailsync.core.models import Channel, InboundMessage

from ..adapters import adapter_for
from ..adapters.base import Adapter, MalformedPayload
from ..validation import order_problems
from .events import accepted_events
from .outcomes import (
    CREATED,
    REJECTED,
    IngestOutcome,
    rejection_key,
    rejection_record,
    rejections_resolve,
)
from .rows import Prepared, orders_insert
from .update import order_upsert

logger = logging.getLogger(__name__)


def content_hash(payload: Any) -> str:
    """What a payload says, whatever its key order: an unchanged redelivery has the same hash."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def adapt(
    adapter: Adapter, index: int, payload: Any, headers: Mapping[str, str]
) -> Prepared | IngestOutcome:
    """One payload through its source's adapter and validation: ready to save, or rejected."""
    try:
        order = adapter(payload, headers)
    except MalformedPayload as exc:
        return IngestOutcome(index, REJECTED, errors=exc.errors, malformed=True)
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError, IndexError) as exc:
        # An adapter tripping on a shape it did not expect is still the payload's problem.
        logger.warning("adapter could not read payload %s: %r", index, exc)
        return IngestOutcome(
            index,
            REJECTED,
            errors=[FieldError("", f"payload could not be read: {exc}")],
            malformed=True,
        )
    problems = order_problems(order)
    if problems:
        return IngestOutcome(index, REJECTED, errors=problems)
    return Prepared(index, order, content_hash(payload))


def orders_ingest(
    *,
    channel: Channel,
    payloads: Sequence[Any],
    headers: Mapping[str, str],
    message: InboundMessage | None = None,
    now: datetime | None = None,
    source: str = "",
) -> list[IngestOutcome]:
    """Adapt, validate and save channel payloads, set-based: one transaction, bulk inserts for
    new orders, the careful one-by-one path only for updates and races."""
    now = now or timezone.now()
    correlation_id = message.correlation_id if message else ensure_correlation_id()
    adapter = adapter_for(source or channel.source)
    outcomes: dict[int, IngestOutcome] = {}
    prepared: list[Prepared] = []
    for index, payload in enumerate(payloads):
        result = adapt(adapter, index, payload, headers)
        if isinstance(result, IngestOutcome):
            outcomes[index] = result
        else:
            prepared.append(result)

    events: list[NewEvent] = []
    with transaction.atomic(savepoint=False):
        # Every first mention is tried as new; what exists already (or arrives concurrently) is
        # skipped by the insert itself and taken one by one: a redelivery, or an update.
        fresh: list[Prepared] = []
        one_by_one: list[Prepared] = []
        seen: set[str] = set()
        for item in prepared:
            (one_by_one if item.order.external_id in seen else fresh).append(item)
            seen.add(item.order.external_id)
        inserted = orders_insert(
            channel=channel, items=fresh, message=message, correlation_id=correlation_id, now=now
        )
        for item, saved in zip(fresh, inserted, strict=True):
            if saved is None:
                one_by_one.append(item)
                continue
            outcomes[item.index] = IngestOutcome(
                item.index, CREATED, saved.order_id, order_status=saved.status
            )
            events += accepted_events(channel, saved, item.order)
        for item in sorted(one_by_one, key=lambda p: p.index):
            outcome, more = order_upsert(
                channel=channel,
                item=item,
                message=message,
                correlation_id=correlation_id,
                now=now,
            )
            outcomes[item.index] = outcome
            events += more
        if events:
            events_record(events, correlation_id=correlation_id, now=now)
        rejections_resolve(
            keys=[
                rejection_key(channel, p.order.external_id)
                for p in prepared
                if outcomes[p.index].status != REJECTED
            ],
            now=now,
        )
        for index, payload in enumerate(payloads):
            outcome = outcomes[index]
            if outcome.status == REJECTED:
                rejection_record(
                    channel=channel,
                    payload=payload,
                    outcome=outcome,
                    message=message,
                    correlation_id=correlation_id,
                    now=now,
                )
    return [outcomes[i] for i in range(len(payloads))]
