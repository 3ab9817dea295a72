"""Channels' own location ids (Shopify's `location_id`) mapped to our locations.

What a channel says happened at one of its locations (a refund that restocked units there)
moves our stock only through a mapping. Where none exists, the units are not dropped: they wait
in an `unmapped_location` exception that names the channel's location id and how to map it, and
mapping it in the admin returns them to stock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from retailsync.core.models import Channel, ExceptionItem
from retailsync.core.services import exception_close, exception_raise

from .models import ChannelLocationMapping, Location
from .services import EventInput, stock_events_apply

KIND = "unmapped_location"
ADMIN_PATH = "Inventory › Channel location mappings"
# Who settled waiting units, for the exception's record: a person, or None for the system.
Actor = User | None


@dataclass(frozen=True, slots=True)
class Restock:
    """Units the channel put back on its shelves; `event_id` makes the stock move once."""

    event_id: str
    sku: str
    quantity: int
    reference: str


def channel_location(*, channel: Channel, external_id: str) -> Location | None:
    mapping = (
        ChannelLocationMapping.objects.select_related("location")
        .filter(channel=channel, external_id=external_id)
        .first()
    )
    return mapping.location if mapping else None


def channel_restock(
    *,
    channel: Channel,
    external_id: str,
    restocks: Sequence[Restock],
    source: str,
    what: str,
    object_type: str = "",
    object_id: str | int = "",
    now: datetime | None = None,
) -> Location | None:
    """Return units to stock at the channel's location `external_id` (return receipts); the
    location they went to, or None when it is not mapped and they wait in an exception.
    `what` names the cause for a person ("refund 890088186047892319")."""
    now = now or timezone.now()
    location = channel_location(channel=channel, external_id=external_id) if external_id else None
    if location is not None:
        _receive(restocks, source, location, now)
        return location
    units = ", ".join(f"{r.quantity} × {r.sku}" for r in restocks)
    where = (
        f"{channel.get_source_display()} location {external_id} of channel {channel.code} is "
        "not mapped to one of our locations"
        if external_id
        else f"channel {channel.code} did not say at which of its locations"
    )
    exception_raise(
        kind=KIND,
        reason=f"{where}, so {units} restocked by {what} did not move stock yet. Map it in the "
        f"admin: {ADMIN_PATH} › Add (channel {channel.code}, external id "
        f"{external_id or '?'}, and our location); the waiting units then go back to stock.",
        details={
            "channel": channel.code,
            "location_id": external_id,
            "source": source,
            "restocks": [asdict(r) for r in restocks],
        },
        object_type=object_type,
        object_id=object_id,
        object_label=f"{channel.code} location {external_id or '?'}",
        channel=channel,
        dedupe_key=f"{KIND}:{channel.code}:{external_id}:{restocks[0].event_id}"[:200],
        now=now,
    )
    return None


def _receive(restocks: Sequence[Restock], source: str, location: Location, now: datetime) -> None:
    stock_events_apply(
        events=[
            EventInput(
                r.event_id,
                source,
                "return_receipt",
                r.sku,
                location.code,
                r.quantity,
                now,
                reference=r.reference,
            )
            for r in restocks
        ],
        now=now,
    )


def channel_location_map(
    *,
    channel: Channel,
    external_id: str,
    location: Location,
    actor: Actor = None,
    now: datetime | None = None,
) -> tuple[ChannelLocationMapping, int]:
    """Map the channel's location id to ours, and return to stock the units that waited for
    it. Returns the mapping and how many waiting exceptions it settled."""
    now = now or timezone.now()
    with transaction.atomic():
        mapping, _ = ChannelLocationMapping.objects.update_or_create(
            channel=channel, external_id=external_id, defaults={"location": location}
        )
        settled = restocks_waiting_apply(mapping=mapping, actor=actor, now=now)
    return mapping, settled


def restocks_waiting_apply(
    *, mapping: ChannelLocationMapping, actor: Actor = None, now: datetime | None = None
) -> int:
    """The units that waited for this mapping go back to stock at its location."""
    now = now or timezone.now()
    waiting = ExceptionItem.objects.filter(
        kind=KIND,
        status=ExceptionItem.Status.OPEN,
        details__channel=mapping.channel.code,
        details__location_id=mapping.external_id,
    ).order_by("pk")
    settled = 0
    with transaction.atomic():
        for item in waiting.select_for_update():
            restocks = [Restock(**r) for r in item.details["restocks"]]
            _receive(restocks, item.details["source"], mapping.location, now)
            units = ", ".join(f"{r.quantity} × {r.sku}" for r in restocks)
            exception_close(
                item=item,
                user=actor,
                status=ExceptionItem.Status.RESOLVED,
                resolution=f"Mapped to {mapping.location.code}: {units} went back to stock there.",
                now=now,
            )
            settled += 1
    return settled
