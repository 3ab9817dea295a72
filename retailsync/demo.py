"""The demo retailer: channels of every source, staff users, a month of orders, and the
providers' settlement files and bank statement for them.

It lives in the top app of the ladder because it feeds every domain. Orders are built in each
channel's own format and sent through the same pipeline a live delivery takes (stored as inbound
messages, adapted, validated), so the demo shows what production would: a few of them are wrong
on purpose and wait in the exception queue. The payouts come the same way, as files uploaded and
matched (`demo_payouts`), with their own few things to look at.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from inventory.availability import availability_refresh_all
from inventory.models import Reservation
from inventory.services import (
    EventInput,
    allocation_set,
    item_upsert,
    location_upsert,
    stock_events_apply,
)
from journals.chart import chart_install
from journals.posting.when import period_of
from journals.services.run import journals_run
from orders.models import Order
from orders.services import LineRequest, order_cancel, order_message_process, shipment_create
from retailsync.core.auth import token_issue
from retailsync.core.correlation import new_correlation_id, set_correlation_id
from retailsync.core.models import Channel
from retailsync.core.services import channel_create, inbound_message_store, user_create
from returns.models import Return
from returns.services import (
    Disposition,
    return_authorize,
    return_close,
    return_inspect,
    return_receive,
    return_refund,
    return_reject,
    return_request,
)
from returns.services import LineInput as ReturnLineInput

from .demo_orders import CATALOG, RATES, cents, demo_order
from .demo_payloads import BUILDERS
from .demo_payouts import fee_schedules_seed, settlements_seed

DEMO_PASSWORD = "demo-pass-2026"


CHANNELS = [
    # code, source, currency, legal entity, locations feeding it (priority order)
    ("webshop", "shopify", "USD", "US01", ["WH-NJ", "STORE-NYC"]),
    ("amazon-us", "amazon", "USD", "US01", ["WH-NJ"]),
    ("store-nyc", "pos", "USD", "US01", ["STORE-NYC"]),
    ("magento-eu", "magento", "EUR", "DE01", ["WH-DE"]),
    ("woo-uk", "woocommerce", "GBP", "UK01", ["3PL-UK"]),
    ("wholesale", "canonical", "USD", "US01", ["WH-NJ"]),
]
LOCATIONS = [
    ("WH-NJ", "warehouse", "Newark DC"),
    ("STORE-NYC", "store", "Soho store"),
    ("WH-DE", "warehouse", "Leipzig DC"),
    ("3PL-UK", "3pl", "Midlands 3PL"),
]
# Units received per location; the bottle runs short on purpose (backorders to look at).
STOCK = {"WH-NJ": 60, "STORE-NYC": 25, "WH-DE": 40, "3PL-UK": 30}
SHORT_SKU = "BOTTLE-750"


def _deliver(channel: Channel, payload: Any, *, placed_at: datetime) -> list[Any]:
    correlation_id = new_correlation_id()
    set_correlation_id(correlation_id)
    message = inbound_message_store(
        channel=channel,
        kind="order",
        body=json.dumps(payload, default=str).encode(),
        headers={"Content-Type": "application/json"},
        correlation_id=correlation_id,
    )
    return order_message_process(message=message, now=placed_at)


def seed(*, orders_per_channel: int = 25, now: datetime | None = None) -> dict[str, Any]:
    """Idempotent: what exists is left alone; a channel that has orders gets no more."""
    now = now or timezone.now()
    rng = random.Random(2026)
    # channels: the tokens of channels created now; tokens: one for every demo channel, new on
    # each run (a token is shown once), so the person starting the demo can always post.
    report: dict[str, Any] = {
        "users": [],
        "channels": {},
        "tokens": {},
        "orders": 0,
        "rejected": 0,
    }
    for username, role in (("finance", "finance"), ("ops", "operations"), ("admin", "admin")):
        user_create(username=username, role=role, password=DEMO_PASSWORD)
        report["users"].append(username)
    _seed_stock(now)
    fee_schedules_seed()
    for n, (code, source, currency, entity, feeding) in enumerate(CHANNELS):
        channel = Channel.objects.filter(code=code).first()
        if channel is None:
            channel, token = channel_create(
                code=code,
                source=source,
                currency=currency,
                legal_entity=entity,
                secret=f"demo-secret-{code}",
            )
            report["channels"][code] = token
            allocation_set(
                channel=channel,
                locations=feeding,
                safety_stock=2,
                share_percent=Decimal(50) if source == "amazon" else None,
                reservation_ttl_minutes=60 * 24 if source == "amazon" else None,
            )
        else:
            token = token_issue(channel=channel)
        report["tokens"][code] = token
        chart_install(legal_entity=channel.legal_entity.code)  # before its sales are posted
        if Order.objects.filter(channel=channel).exists():
            continue
        for i in range(orders_per_channel):
            placed = now - timedelta(
                days=30 * (orders_per_channel - i) / orders_per_channel, hours=rng.randint(0, 12)
            )
            order = demo_order(rng, 1000 * (n + 1) + i, placed, currency, RATES[currency])
            payload = BUILDERS[source](order)
            if i == orders_per_channel - 1:
                _break_on_purpose(source, payload)
            [outcome] = _deliver(channel, payload, placed_at=placed)
            if outcome.order_id is None:
                report["rejected"] += 1
                continue
            report["orders"] += 1
            _fulfil(rng, outcome.order_id, placed, feeding[0])
    _seed_returns(rng, now)
    report["settlements"] = settlements_seed(now=now)
    availability_refresh_all(now=now)
    # Whatever the subscribers have not posted yet: the month's journals, as drafts.
    report["journal_entries"] = journals_run(period=period_of(timezone.localdate(now)), now=now)
    return report


def _seed_stock(now: datetime) -> None:
    for code, kind, name in LOCATIONS:
        location_upsert(code=code, kind=kind, name=name)
    for sku, name, price in CATALOG:
        item_upsert(
            sku=sku, description=name, unit_cost=cents(price * Decimal("0.38")), cost_currency="USD"
        )
    item_upsert(
        sku="GIFTSET-TEE-MUG",
        description="Gift set: tee and mug",
        components={"TSHIRT-BLK-M": 1, "MUG-WHT": 1},
    )
    received = now - timedelta(days=40)
    stock_events_apply(
        events=[
            EventInput(
                f"demo-receipt-{code}-{sku}",
                "demo-wms",
                "receipt",
                sku,
                code,
                8 if sku == SHORT_SKU else units,
                received,
                reference="PO-DEMO-1",
            )
            for code, units in STOCK.items()
            for sku, _, _ in CATALOG
        ],
        now=received,
    )


def _seed_returns(rng: random.Random, now: datetime) -> None:
    """A handful of returns at every stage, from shipped orders of the last weeks."""
    if Return.objects.exists():
        return
    shipped = list(
        Order.objects.filter(
            status=Order.Status.SHIPPED, channel__source__in=["shopify", "magento", "canonical"]
        ).order_by("placed_at")[:8]
    )
    stages = [
        "requested",
        "authorized",
        "received",
        "inspected",
        "refunded",
        "closed",
        "closed",
        "rejected",
    ]
    for order, stage in zip(shipped, stages, strict=False):
        line = order.lines.order_by("pk").first()
        assert line is not None
        when = max(order.placed_at + timedelta(days=3), now - timedelta(days=25))
        location = (
            Reservation.objects.filter(order=order).values_list("location__code", flat=True).first()
            or "WH-NJ"
        )
        ret = return_request(
            order_id=order.pk,
            now=when,
            lines=[
                ReturnLineInput(
                    1, rng.choice(["too_small", "changed_mind", "damaged"]), line_id=line.pk
                )
            ],
        )
        if stage == "rejected":
            return_reject(return_id=ret.pk, note="worn and washed", now=when)
            continue
        steps = stages.index(stage)
        if steps >= 1:
            return_authorize(return_id=ret.pk, now=when)
        if steps >= 2:
            return_receive(return_id=ret.pk, location=location, now=when + timedelta(days=4))
        if steps >= 3:
            return_inspect(
                return_id=ret.pk,
                location=location,
                now=when + timedelta(days=5),
                lines=[Disposition(restock=1, line_id=line.pk)],
            )
        if steps >= 4:
            return_refund(return_id=ret.pk, now=when + timedelta(days=5))
        if steps >= 5:
            return_close(return_id=ret.pk, now=when + timedelta(days=6))


def _break_on_purpose(source: str, payload: dict[str, Any]) -> None:
    """One order per channel that a person must look at: a total that does not add up."""
    for key in ("total_price", "total", "grand_total"):
        if key in payload:
            payload[key] = str(Decimal(str(payload[key])) + Decimal("10.00"))
            return
    if source == "amazon":
        payload["OrderItems"][0]["SellerSKU"] = ""
    elif source == "pos":
        payload["line_items"][0]["quantity"] = "-1"


def _fulfil(rng: random.Random, order_id: int, placed: datetime, location: str) -> None:
    """Ship, part-ship or cancel like a real month would; an order still waiting for stock
    (a backorder) stays open, and ships from where its units are reserved."""
    order = Order.objects.prefetch_related("lines").get(pk=order_id)
    lines = list(order.lines.all())
    held = Reservation.objects.filter(order_id=order_id, status=Reservation.Status.ACTIVE)
    if (held.aggregate(n=Sum("quantity"))["n"] or 0) < sum(line.quantity for line in lines):
        return
    location = held.values_list("location__code", flat=True).first() or location
    roll = rng.random()
    shipped_at = placed if order.channel.source == "pos" else placed + timedelta(days=1)
    everything = [LineRequest(quantity=line.quantity, line_id=line.pk) for line in lines]
    if order.channel.source == "pos" or roll < 0.55:
        shipment_create(
            order_id=order_id,
            location=location,
            shipped_at=shipped_at,
            tracking="" if order.channel.source == "pos" else f"1Z{order_id:010d}",
            external_id=f"SHP-{order_id}",
            lines=everything,
            now=shipped_at,
        )
    elif roll < 0.7 and lines[0].quantity > 1:
        shipment_create(
            order_id=order_id,
            location=location,
            shipped_at=shipped_at,
            lines=[LineRequest(quantity=1, line_id=lines[0].pk)],
            now=shipped_at,
        )
    elif roll < 0.78:
        order_cancel(
            order_id=order_id, reason="customer changed their mind", now=placed + timedelta(hours=2)
        )
