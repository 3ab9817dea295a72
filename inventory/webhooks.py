"""Webhook pushes of changed figures: a delivery row per channel that takes pushes, written in
the refresh's transaction, then POSTed, signed, by a task after commit (the outside world's
edge: the one place inventory speaks HTTP), retried with backoff and swept if never tried.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from retailsync.core.correlation import ensure_correlation_id
from retailsync.core.db import any_of, insert_returning
from retailsync.core.models import Channel
from retailsync.core.publish import task_publish
from retailsync.core.webhooks import (
    SIGNATURE_HEADER,
    webhook_opener,
    webhook_signature,
    webhook_url_problems,
)

from .models import ChannelAllocation, Item, WebhookDelivery


def webhook_deliveries_record(
    changed: list[tuple[int, int, int, int, str]], *, now: datetime
) -> None:
    """One webhook delivery per channel that takes pushes, sent after commit, retried."""
    if not changed:
        return
    hooks = dict(
        ChannelAllocation.objects.exclude(webhook_url="").values_list("channel_id", "webhook_url")
    )
    if not hooks:
        return
    skus = dict(
        Item.objects.filter(any_of("pk", {i for _, i, *_ in changed})).values_list("pk", "sku")
    )
    by_channel: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for channel_id, item_id, value, _, _ in changed:
        if channel_id in hooks:
            by_channel[channel_id].append({"sku": skus[item_id], "available": value})
    correlation_id = ensure_correlation_id()
    codes = dict(Channel.objects.filter(pk__in=by_channel).values_list("pk", "code"))
    ids = insert_returning(
        WebhookDelivery,
        (
            "channel",
            "url",
            "payload",
            "status",
            "attempts",
            "last_error",
            "created_at",
            "correlation_id",
        ),
        (
            (
                cid,
                hooks[cid],
                {"channel": codes[cid], "at": now, "items": items},
                "pending",
                0,
                "",
                now,
                correlation_id,
            )
            for cid, items in by_channel.items()
        ),
    )
    transaction.on_commit(lambda: _enqueue_deliveries(ids))


def _enqueue_deliveries(ids: list[int]) -> None:
    from .tasks import webhook_deliver_task

    for delivery_id in ids:
        task_publish(webhook_deliver_task, delivery_id=delivery_id)  # or the sweep does


def webhook_deliveries_requeue(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Publish again the pushes never tried after `older_than`: their publish was lost (the
    broker was down). Those tried at least once are the delivery task's own retries."""
    cutoff = (now or timezone.now()) - older_than
    ids = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, attempts=0, created_at__lt=cutoff
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    _enqueue_deliveries(ids)
    return len(ids)


class DeliveryFailed(Exception):
    """The channel's endpoint did not take the push; the task retries with backoff."""


def webhook_deliver(
    *, delivery_id: int, final_attempt: bool = False, now: datetime | None = None
) -> str:
    """POST one delivery, signed; DeliveryFailed asks the task to retry unless it is the last."""
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    if delivery.status == WebhookDelivery.Status.DELIVERED:
        return delivery.status
    body = json.dumps(delivery.payload, cls=DjangoJSONEncoder).encode()
    delivery.attempts += 1
    refused = webhook_url_problems(delivery.url)
    if refused:  # checked again: the name may point elsewhere since it was saved
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.last_error = "; ".join(refused)[:2000]
        delivery.save()
        return delivery.status
    secret = (
        ChannelAllocation.objects.filter(channel_id=delivery.channel_id)
        .values_list("webhook_secret", flat=True)
        .first()
    )
    if not secret:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.last_error = "no signing secret: issue one with rotate_webhook_secret"
        delivery.save()
        return delivery.status
    request = urllib.request.Request(  # noqa: S310  (checked by webhook_url_problems)
        delivery.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Correlation-ID": delivery.correlation_id,
            "X-Retailsync-Delivery": str(delivery.pk),
            SIGNATURE_HEADER: webhook_signature(
                secret=secret, body=body, timestamp=int((now or timezone.now()).timestamp())
            ),
        },
    )
    try:
        with webhook_opener.open(request, timeout=10) as response:
            delivery.response_code = response.status
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = now or timezone.now()
        delivery.last_error = ""
    except (urllib.error.URLError, OSError) as exc:
        code = getattr(exc, "code", None)
        delivery.response_code = code if isinstance(code, int) else None
        delivery.last_error = str(exc)[:2000]
        if final_attempt:
            delivery.status = WebhookDelivery.Status.FAILED
        delivery.save()
        if not final_attempt:
            raise DeliveryFailed(str(exc)) from exc
        return delivery.status
    delivery.save()
    return delivery.status
