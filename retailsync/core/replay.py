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
from .models import InboundMessage
from .registry import processor_for


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
