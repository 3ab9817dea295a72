"""Master data: locations, items (and bundles), a channel's allocation rules and its webhook
signing secret."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from retailsync.core.errors import BusinessRuleViolation, FieldError
from retailsync.core.models import Channel, LegalEntity
from retailsync.core.webhooks import webhook_secret_new, webhook_url_problems

from ..models import (
    BundleComponent,
    ChannelAllocation,
    ChannelItemRule,
    ChannelLocation,
    Item,
    Location,
)
from .ledger import mark_dirty


def location_upsert(
    *, code: str, kind: str, name: str = "", legal_entity: str = ""
) -> tuple[Location, bool]:
    if kind not in Location.Kind.values:
        raise BusinessRuleViolation(
            f"must be one of {', '.join(Location.Kind.values)}", field="kind"
        )
    entity = None
    if legal_entity:
        entity = LegalEntity.objects.filter(code=legal_entity).first()
        if entity is None:
            raise BusinessRuleViolation(
                f"unknown legal entity {legal_entity!r}", field="legal_entity"
            )
    location, created = Location.objects.update_or_create(
        code=code, defaults={"kind": kind, "name": name or code, "legal_entity": entity}
    )
    return location, created


def item_upsert(
    *,
    sku: str,
    description: str = "",
    unit_cost: Decimal | None = None,
    cost_currency: str = "",
    components: Mapping[str, int] | None = None,
) -> tuple[Item, bool]:
    """Create or update an item; `components` (SKU → quantity) makes it a bundle."""
    with transaction.atomic():
        item, created = Item.objects.update_or_create(
            sku=sku,
            defaults={
                "description": description,
                "unit_cost": unit_cost,
                "cost_currency": cost_currency,
            },
        )
        if components is not None:
            parts = {i.sku: i for i in Item.objects.filter(sku__in=components)}
            missing = sorted(set(components) - set(parts))
            if missing:
                raise BusinessRuleViolation(
                    [FieldError(f"components.{s}", "unknown SKU") for s in missing]
                )
            if sku in components:
                raise BusinessRuleViolation("a bundle cannot contain itself", field="components")
            BundleComponent.objects.filter(bundle=item).delete()
            BundleComponent.objects.bulk_create(
                [
                    BundleComponent(bundle=item, component=parts[s], quantity=q)
                    for s, q in components.items()
                ]
            )
    return item, created


def allocation_set(
    *,
    channel: Channel,
    locations: Sequence[str],
    safety_stock: int = 0,
    share_percent: Decimal | None = None,
    cap: int | None = None,
    allow_split: bool = True,
    reservation_ttl_minutes: int | None = None,
    webhook_url: str = "",
    item_safety_stock: Mapping[str, int] | None = None,
    rotate_webhook_secret: bool = False,
    now: datetime | None = None,
) -> ChannelAllocation:
    """Replace the channel's allocation rules; locations in priority order (first goes first).
    A webhook always has a signing secret: one is issued with the first URL, or on request."""
    now = now or timezone.now()
    by_code = {loc.code: loc for loc in Location.objects.filter(code__in=locations)}
    items = {i.sku: i for i in Item.objects.filter(sku__in=list(item_safety_stock or {}))}
    problems = [
        FieldError(f"locations[{i}]", f"unknown location {code!r}")
        for i, code in enumerate(locations)
        if code not in by_code
    ]
    problems += [
        FieldError(f"item_safety_stock.{sku}", "unknown SKU")
        for sku in (item_safety_stock or {})
        if sku not in items
    ]
    if webhook_url:
        problems += [FieldError("webhook_url", p) for p in webhook_url_problems(webhook_url)]
    if problems:
        raise BusinessRuleViolation(problems)
    with transaction.atomic():
        allocation, _ = ChannelAllocation.objects.update_or_create(
            channel=channel,
            defaults={
                "safety_stock": safety_stock,
                "share_percent": share_percent,
                "cap": cap,
                "allow_split": allow_split,
                "reservation_ttl_minutes": reservation_ttl_minutes,
                "webhook_url": webhook_url,
                "updated_at": now,
            },
        )
        if webhook_url and (rotate_webhook_secret or not allocation.webhook_secret):
            webhook_secret_issue(allocation=allocation)
        allocation.locations.all().delete()
        ChannelLocation.objects.bulk_create(
            [
                ChannelLocation(allocation=allocation, location=by_code[code], priority=i)
                for i, code in enumerate(locations)
            ]
        )
        allocation.item_rules.all().delete()
        ChannelItemRule.objects.bulk_create(
            [
                ChannelItemRule(allocation=allocation, item=items[sku], safety_stock=n)
                for sku, n in (item_safety_stock or {}).items()
            ]
        )
        # Every figure of this channel may change, and its backorders may find stock now.
        mark_dirty(Item.objects.values_list("pk", flat=True), now=now)
        from ..backorders import backorders_wake

        backorders_wake()
    return allocation


def channel_webhook_secret(channel: Channel) -> str:
    found = ChannelAllocation.objects.filter(channel=channel).values_list(
        "webhook_secret", flat=True
    )
    return found.first() or ""


def webhook_secret_issue(*, allocation: ChannelAllocation) -> str:
    """A new secret that signs the channel's pushes from now on; the clear text is returned
    for the caller to show once (like a token) and is not shown again."""
    allocation.webhook_secret = webhook_secret_new()
    allocation.save(update_fields=["webhook_secret"])
    return allocation.webhook_secret
