"""Replay: run stored inbound messages through the same pipeline again, from the stored bytes.

The pipeline of each kind of message is its app's processor, registered with the core at
start-up (`registry.register_processor`): the core imports no domain app. A message of a kind
nobody registered is reported as skipped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .correlation import set_correlation_id
from .errors import DomainError
from .events import events_relay_request
from .models import DomainEvent, EventFailure, InboundMessage
from .registry import processor_for
from .relay import events_dispatch


@dataclass(frozen=True, slots=True)
class ReplayResult:
    message_id: int
    status: str
    detail: str


def messages_replay(
    messages: Iterable[InboundMessage], *, now: datetime | None = None
) -> list[ReplayResult]:
    now = now or timezone.now()
    results = []
    for message in messages:
        process = processor_for(message.kind)
        if process is None:
            results.append(ReplayResult(message.pk, "skipped", f"no pipeline for {message.kind}"))
            continue
        InboundMessage.objects.filter(pk=message.pk).update(attempts=F("attempts") + 1)
        set_correlation_id(message.correlation_id)
        try:
            # Its own savepoint: a message that fails leaves the caller's transaction (the
            # admin request's) sound for the next one.
            with transaction.atomic():
                detail = process(message=message, now=now)
        except DomainError as exc:
            detail = str(exc)
        message.refresh_from_db(fields=["status"])
        results.append(ReplayResult(message.pk, message.status, detail))
    return results


# Events, as against inbound messages: a poison event (retailsync.core.failures) is left until a person
# replays it here; replay runs every subscriber that has not handled it yet.


@dataclass(frozen=True, slots=True)
class EventReplayResult:
    event_id: int
    status: str  # "dispatched", or "failed" (the exception stays open, with the new error)
    detail: str


def events_replay(*, event_ids: Iterable[int]) -> list[EventReplayResult]:
    """Dispatch these events again, one at a time, whatever their failures say; on success
    their failures are forgotten and their poison exceptions resolved."""
    results = []
    for event_id in event_ids:
        event = DomainEvent.objects.filter(pk=event_id).first()
        if event is None:
            results.append(EventReplayResult(event_id, "missing", "no such event"))
            continue
        set_correlation_id(event.correlation_id)
        ran = events_dispatch(event_ids=[event_id])
        failure = EventFailure.objects.filter(event_id=event_id).order_by("-failed_at").first()
        if failure is None:
            results.append(EventReplayResult(event_id, "dispatched", f"{ran} subscriber run(s)"))
            # The events of its aggregate that waited behind it may go now.
            transaction.on_commit(events_relay_request)
        else:
            detail = f"{failure.subscriber}: {failure.last_error}"
            results.append(EventReplayResult(event_id, "failed", detail))
    return results
