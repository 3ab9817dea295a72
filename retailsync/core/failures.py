"""Failed event deliveries: tries with backoff, then a poison event for a person.

A subscriber that raises on an event leaves the event waiting, and an `EventFailure` (per event
and subscriber) counts the tries: the relay does not take the event again before `retry_at`
(backoff doubling from `RETAILSYNC_EVENT_RETRY_BACKOFF_SECONDS`), and after
`RETAILSYNC_EVENT_RETRY_TRIES` tries never again by itself: it is a `poison_event` exception
naming the event, the subscriber and the last error, until a person replays it
(`manage.py replay --event ID`, or the admin). Meanwhile the later events of its aggregate wait
behind it, as the relay keeps an aggregate's events in order. An event that goes through forgets
its failures and resolves its exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings

from .models import DomainEvent, EventFailure
from .services import exception_raise, exception_resolve_open

POISON_EVENT = "poison_event"


def poison_key(event_id: int, subscriber: str) -> str:
    """The exception's dedupe key: one open exception per event and subscriber."""
    return f"{POISON_EVENT}:{event_id}:{subscriber}"[:200]


def failure_record(
    *, event: DomainEvent, subscriber: str, error: str, now: datetime
) -> EventFailure:
    """Count a try that failed (call in the transaction that holds the event); the event is
    poison (an exception is raised) once the tries run out."""
    failure, _ = EventFailure.objects.select_for_update().get_or_create(
        event=event,
        subscriber=subscriber,
        defaults={"tries": 0, "retry_at": now, "failed_at": now},
    )
    failure.tries += 1
    failure.last_error = error[:4000]
    failure.failed_at = now
    backoff = settings.RETAILSYNC_EVENT_RETRY_BACKOFF_SECONDS * 2 ** (failure.tries - 1)
    failure.retry_at = now + timedelta(seconds=backoff)
    if failure.tries >= settings.RETAILSYNC_EVENT_RETRY_TRIES:
        failure.poisoned_at = failure.poisoned_at or now
        exception_raise(
            kind=POISON_EVENT,
            reason=(
                f"subscriber {subscriber} failed {failure.tries} times on event {event.pk} "
                f"({event.name} {event.aggregate_type} {event.aggregate_id}): {failure.last_error}"
            ),
            details={
                "event_id": event.pk,
                "event": event.name,
                "subscriber": subscriber,
                "tries": failure.tries,
                "last_error": failure.last_error,
            },
            object_type="event",
            object_id=event.pk,
            object_label=f"{event.name} {event.aggregate_type} {event.aggregate_id}",
            dedupe_key=poison_key(event.pk, subscriber),
            correlation_id=event.correlation_id,
            now=now,
        )
    failure.save()
    return failure


def failures_clear(*, event_ids: Sequence[int], now: datetime) -> int:
    """These events went through: forget their failures and resolve their poison exceptions.
    Returns how many failures there were."""
    failures = list(
        EventFailure.objects.filter(event_id__in=event_ids).values_list(
            "pk", "event_id", "subscriber", "poisoned_at"
        )
    )
    if not failures:
        return 0
    EventFailure.objects.filter(pk__in=[pk for pk, *_ in failures]).delete()
    for _, event_id, subscriber, poisoned_at in failures:
        if poisoned_at is not None:
            exception_resolve_open(
                dedupe_key=poison_key(event_id, subscriber),
                resolution="replayed: the subscriber handled the event",
                now=now,
            )
    return len(failures)
