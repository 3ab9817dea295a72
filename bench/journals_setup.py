"""The data `bench/journals.py` journals: shipped orders and a matched Amazon settlement.

Everything is written in this process with production's settings, through the product's own
services where they are the way data arrives, and set-based where the service would take longer
than the measurement itself:

- a legal entity (US01) with the starting chart (`journals.chart.chart_install`), a channel
  `bench-amazon` (canonical source), and the catalogue `SKU-0` .. `SKU-4999` with unit costs
  (one `bulk_create`: items are master data, not what is measured);
- the orders, through the batch ingest service (`orders.services.orders_ingest`, 500 per call,
  as `POST …/orders/batch` does), one per Amazon order of the settlement, whose external id is
  Amazon's order id, so that the settlement's `order_ref` rule links every line to its order:
  one line of `SKU-<n mod 5000>`, 29.99 + 2.40 tax, paid 32.39 through the `amazon` gateway,
  placed 2024-03-01 .. 2024-03-14;
- the shipments, one per order, the day after it was placed. The first `SERVICE_SHIPMENTS` go
  through `orders.services.fulfilment.shipment_create`; the rest by a set-based path kept here,
  for set-up only: per chunk, `bulk_create` of the shipments and their lines, one UPDATE of the
  lines' shipped quantities and one of the orders' status, and the `order.shipped` events built
  by the service's own `shipped_event` and written by `events_record`, created at the shipment's
  time. (Not written: the order's change record, which journals do not read.) `shipments_check`
  holds one service-made event beside one of this path's;
- the settlement: `bench/settlement_parse.py`'s `amazon_v2_file` (five rows per order), stored
  by `settlements.loading.upload_create` and read, staged, kept and matched by `upload_process`,
  the Celery task's body, in this process: one batch, deposit date 2024-03-17.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.settlement_parse import amazon_v2_file

LEGAL_ENTITY = "US01"
CHANNEL = "bench-amazon"
GATEWAY = "amazon"
PROVIDER = "amazon"
SKUS = 5000
PERIOD = "2024-03"
START = datetime(2024, 3, 1, tzinfo=UTC)
DAYS = 14  # orders placed over this many days, each shipped the next day
MATCHED_AT = datetime(2024, 3, 16, 6, tzinfo=UTC)
INGEST_BATCH = 500
SHIP_CHUNK = 5000
SERVICE_SHIPMENTS = 20
PRICE, TAX = Decimal("29.99"), Decimal("2.40")  # as amazon_v2_file's Principal and Tax rows


def amazon_order_id(n: int) -> str:
    """The order id `amazon_v2_rows` writes for its n-th order."""
    return f"111-{n // 10_000_000:07d}-{n % 10_000_000:07d}"


def unit_cost(k: int) -> Decimal:
    return Decimal(1000 + (k * 37) % 900) / 100  # 10.00 .. 18.99


def placed_at(n: int, orders: int) -> datetime:
    return START + timedelta(seconds=n * DAYS * 86_400 // max(orders, 1))


@dataclass(slots=True)
class Setup:
    orders: int = 0
    settlement_lines: int = 0
    seconds: dict[str, float] | None = None


def books() -> None:
    from inventory.models import Item
    from journals.chart import chart_install
    from retailsync.core.services import channel_create

    channel_create(code=CHANNEL, source="canonical", currency="USD", legal_entity=LEGAL_ENTITY)
    chart_install(legal_entity=LEGAL_ENTITY)
    Item.objects.bulk_create(
        [Item(sku=f"SKU-{k}", unit_cost=unit_cost(k), cost_currency="USD") for k in range(SKUS)],
        batch_size=5000,
    )


def order_payload(n: int, orders: int) -> dict[str, Any]:
    total = PRICE + TAX
    return {
        "external_id": amazon_order_id(n),
        "order_number": f"A{n}",
        "currency": "USD",
        "placed_at": placed_at(n, orders).isoformat().replace("+00:00", "Z"),
        "prices_include_tax": False,
        "customer_email": f"buyer{n}@example.com",
        "fulfilment_location": "WH1",
        "lines": [
            {
                "id": "L1",
                "sku": f"SKU-{n % SKUS}",
                "quantity": 1,
                "unit_price": f"{PRICE}",
                "discount": "0",
                "tax": f"{TAX}",
            }
        ],
        "shipping": {"amount": "0", "discount": "0", "tax": "0"},
        "payments": [{"gateway": GATEWAY, "reference": f"amzn-{n}", "amount": f"{total}"}],
        "total": f"{total}",
    }


def orders_load(orders: int) -> None:
    from orders.services import orders_ingest
    from retailsync.core.models import Channel

    channel = Channel.objects.get(code=CHANNEL)
    for start in range(0, orders, INGEST_BATCH):
        outcomes = orders_ingest(
            channel=channel,
            headers={},
            payloads=[order_payload(n, orders) for n in range(start, min(orders, start + 500))],
            now=placed_at(start, orders),
        )
        bad = [o for o in outcomes if o.status != "created"]
        if bad:
            raise RuntimeError(f"ingesting orders: {bad[:2]}")


def _order_chunks(size: int) -> Iterator[list[Any]]:
    from orders.models import Order

    last = 0
    while True:
        chunk = list(
            Order.objects.filter(pk__gt=last, shipments__isnull=True)
            .prefetch_related("lines")
            .order_by("pk")[:size]
        )
        if not chunk:
            return
        last = chunk[-1].pk
        yield chunk


def shipments_load(orders: int) -> None:
    """Every order shipped whole, the day after it was placed (see the module's docstring)."""
    from django.db import transaction

    from orders.events import LineQuantity
    from orders.models import Order, OrderLine, Shipment, ShipmentLine
    from orders.services.events import shipped_event
    from orders.services.fulfilment import LineRequest, shipment_create
    from retailsync.core.events import events_record

    for order in next(_order_chunks(SERVICE_SHIPMENTS), []):
        when = order.placed_at + timedelta(days=1)
        shipment_create(
            order_id=order.pk,
            location="WH1",
            lines=[LineRequest(line.quantity, line_id=line.pk) for line in order.lines.all()],
            shipped_at=when,
            now=when,
        )
    for chunk in _order_chunks(SHIP_CHUNK):
        with transaction.atomic():
            shipments = Shipment.objects.bulk_create(
                [
                    Shipment(
                        order=o,
                        location="WH1",
                        shipped_at=o.placed_at + timedelta(days=1),
                        correlation_id=o.correlation_id,
                        created_at=o.placed_at + timedelta(days=1),
                    )
                    for o in chunk
                ]
            )
            ShipmentLine.objects.bulk_create(
                ShipmentLine(shipment=s, line_id=line.pk, quantity=line.quantity)
                for o, s in zip(chunk, shipments, strict=True)
                for line in o.lines.all()
            )
            ids = [o.pk for o in chunk]
            OrderLine.objects.filter(order_id__in=ids).update(quantity_shipped=_f("quantity"))
            Order.objects.filter(pk__in=ids).update(status=Order.Status.SHIPPED)
            for o in chunk:
                o.status = Order.Status.SHIPPED
            events_record(
                [
                    shipped_event(
                        o,
                        s,
                        [LineQuantity(x.pk, x.sku, x.quantity) for x in o.lines.all()],
                    )
                    for o, s in zip(chunk, shipments, strict=True)
                ],
                now=shipments[-1].shipped_at,
            )


def _f(name: str) -> Any:
    from django.db.models import F

    return F(name)


def shipments_check() -> list[str]:
    """The set-up path's `order.shipped` events against the service's: same keys, same kinds
    of values (one of each, both for one-line orders)."""
    from retailsync.core.models import DomainEvent

    events = DomainEvent.objects.filter(name="order.shipped").order_by("pk")
    first, last = events.first(), events.last()
    if first is None or last is None:
        return ["no order.shipped event was written"]

    def shape(payload: Any) -> Any:
        if isinstance(payload, dict):
            return {k: shape(v) for k, v in sorted(payload.items())}
        if isinstance(payload, list):
            return [shape(v) for v in payload]
        return type(payload).__name__

    if shape(first.payload) != shape(last.payload):
        return [f"set-up's order.shipped {last.payload} is not shaped as the service's"]
    return []


def settlement_load(orders: int) -> int:
    """The Amazon settlement of every order, uploaded and matched in this process; its lines."""
    from retailsync.core.models import Channel
    from settlements.loading import upload_create, upload_process
    from settlements.models import SettlementLine, Upload

    channel = Channel.objects.get(code=CHANNEL)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "settlement.tsv"
        with path.open("wb") as out:
            rows = amazon_v2_file(out, orders)
        with path.open("rb") as stream:
            upload = upload_create(
                stream=stream,
                name="amazon-settlement.tsv",
                provider=PROVIDER,
                channel=channel,
                user=None,
                now=MATCHED_AT,
            )
    upload = upload_process(upload.pk, now=MATCHED_AT)
    if upload.status != Upload.Status.DONE:
        raise RuntimeError(f"settlement upload {upload.status}: {upload.errors}")
    kept = SettlementLine.objects.filter(batch_id__in=upload.batch_ids).count()
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in upload.counts.get("seconds", {}).items())
    print(f"({rows:,} lines: {phases})", end=" ", flush=True)
    if kept != rows:
        raise RuntimeError(f"the settlement kept {kept} lines of {rows}")
    return rows


def data_load(orders: int) -> Setup:
    """All of the above; seconds per step."""
    seconds: dict[str, float] = {}
    began = time.perf_counter()
    books()
    for name, step in (
        ("orders", orders_load),
        ("shipments", shipments_load),
        ("settlement", settlement_load),
    ):
        print(f"  {name} ...", end=" ", flush=True)
        began = time.perf_counter()
        result = step(orders)
        seconds[name] = round(time.perf_counter() - began, 1)
        print(f"{seconds[name]:.1f} s", flush=True)
        if name == "settlement":
            lines = int(result or 0)
    return Setup(orders=orders, settlement_lines=lines, seconds=seconds)
