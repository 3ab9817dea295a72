"""Inventory speed against the issue's targets, each beside a baseline measured in the same run.

1. Stock events in batches of 500 through gunicorn: ≥ 2,000 events/s (the echo endpoint's
   request rate is printed beside it).
2. Reservations on one hot SKU by 16 concurrent clients: ≥ 50 % of the rate of a bare single-row
   `UPDATE … SET qty = qty - 1 WHERE qty > 0` by 16 clients, with 0 oversells and 0 negative
   availability (checked afterwards, exit 1 if not).
3. Availability for 50,000 SKUs × 3 channels recomputed in ≤ 10 s, from empty and after 10 %
   of positions changed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/retailsync_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/inventory.py [--quick]

Like bench/ingest.py it always works in the database `retailsync_bench` (dropped and
recreated) and a Celery queue of its own that no worker reads (dropped afterwards).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import (
    CELERY_QUEUE,
    ECHO_PATH,
    RESULTS,
    SETTINGS,
    Connection,
    ServerConfig,
    bench_database_url,
    celery_queue_drop,
    database_recreate,
    gunicorn,
    http_post,
    manage,
)

TARGET_EVENTS = 2000.0
TARGET_HOT_RATIO = 0.5
TARGET_REFRESH_SECONDS = 10.0
CLIENTS = 16


def timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def post_all(port: int, requests: list[bytes], connections: int) -> tuple[list[int], float]:
    """Send pre-encoded requests over `connections` keep-alive connections; (statuses, seconds)."""
    statuses: list[int] = []
    lock = threading.Lock()

    def worker(chunk: list[bytes]) -> None:
        conn = Connection(port)
        for request in chunk:
            status, _ = conn.post(request)
            with lock:
                statuses.append(status)
        conn.close()

    chunks = [requests[i::connections] for i in range(connections)]
    start = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(worker, chunks))
    return statuses, time.perf_counter() - start


def events_flow(port: int, token: str, batches: int) -> dict[str, Any]:
    stamp = datetime(2026, 11, 1, tzinfo=UTC).isoformat()
    requests = []
    for b in range(batches):
        body = [
            {
                "event_id": f"ev-{b}-{i}",
                "source": "bench-wms",
                "type": "receipt" if i % 3 else "adjustment",
                "sku": f"EV-{i % 400:04d}",
                "location": ("WH1", "WH2", "WH3")[i % 3],
                "quantity": 5,
                "occurred_at": stamp,
            }
            for i in range(500)
        ]
        requests.append(
            http_post(port, "/api/v1/inventory/events", json.dumps(body).encode(), token)
        )
    echo = [http_post(port, ECHO_PATH, b'{"n": 1}', "-") for _ in range(2000)]
    echo_statuses, echo_seconds = post_all(port, echo, 8)
    statuses, seconds = post_all(port, requests, 2)
    bad = [s for s in statuses + echo_statuses if s not in (200, 201)]
    return {
        "events": batches * 500,
        "seconds": seconds,
        "rate": batches * 500 / seconds,
        "echo_rate": len(echo) / echo_seconds,
        "bad_answers": len(bad),
    }


def bare_update_flow(url: str, operations: int) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_counter")
        conn.execute("CREATE TABLE bench_counter (id int primary key, qty int not null)")
        conn.execute("INSERT INTO bench_counter VALUES (1, %s)", [operations])
    per_client = operations // CLIENTS

    def client() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            for _ in range(per_client):
                conn.execute("UPDATE bench_counter SET qty = qty - 1 WHERE id = 1 AND qty > 0")

    _, seconds = timed(lambda: _run_threads(client, CLIENTS))
    return {
        "operations": per_client * CLIENTS,
        "seconds": seconds,
        "rate": per_client * CLIENTS / seconds,
    }


def _run_threads(target: Any, n: int, args: list[tuple[Any, ...]] | None = None) -> None:
    threads = [threading.Thread(target=target, args=(args[i] if args else ())) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def hot_sku_flow(orders: int, on_hand: int) -> dict[str, Any]:
    from django.db import connection
    from django.db.models import Sum

    from inventory.models import Position, Reservation
    from inventory.reservations import order_reserve
    from inventory.services import (
        EventInput,
        allocation_set,
        item_upsert,
        stock_events_apply,
    )
    from orders.services import orders_ingest
    from retailsync.models import DomainEvent, ExceptionItem
    from retailsync.services import channel_create

    item_upsert(sku="HOT")
    channel, _ = channel_create(code="hot-channel", source="canonical")
    allocation_set(channel=channel, locations=["WH1"])
    stamp = datetime(2026, 11, 1, tzinfo=UTC)
    stock_events_apply(
        events=[EventInput("hot-stock", "bench", "receipt", "HOT", "WH1", on_hand, stamp)]
    )
    for start in range(0, orders, 500):
        orders_ingest(
            channel=channel,
            headers={},
            payloads=[
                {
                    "external_id": f"HOT-{n}",
                    "currency": "USD",
                    "placed_at": stamp.isoformat(),
                    "lines": [{"sku": "HOT", "quantity": 1, "unit_price": "9.00", "tax": "0"}],
                    "total": "9.00",
                }
                for n in range(start, min(start + 500, orders))
            ],
        )
    payloads = [
        e.payload
        for e in DomainEvent.objects.filter(
            name="order.accepted", payload__channel="hot-channel"
        ).order_by("pk")
    ]
    connection.close()
    errors: list[BaseException] = []

    def client(chunk: list[dict[str, Any]]) -> None:
        try:
            for payload in chunk:
                order_reserve(payload=payload)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    _, seconds = timed(
        lambda: _run_threads(client, CLIENTS, [(payloads[i::CLIENTS],) for i in range(CLIENTS)])
    )
    position = Position.objects.get(item__sku="HOT", location__code="WH1")
    held = (
        Reservation.objects.filter(item__sku="HOT", status="active").aggregate(n=Sum("quantity"))[
            "n"
        ]
        or 0
    )
    backorders = ExceptionItem.objects.filter(kind="backorder").count()
    oversold = max(position.reserved - position.on_hand, 0)
    return {
        "orders": len(payloads),
        "seconds": seconds,
        "rate": len(payloads) / seconds,
        "on_hand": position.on_hand,
        "reserved": position.reserved,
        "held": held,
        "oversells": oversold,
        "negative_available": int(
            position.on_hand - position.reserved - position.damaged - position.quality_hold < 0
        ),
        "backorders": backorders,
        "errors": [repr(e) for e in errors[:3]],
        "ok": not errors
        and oversold == 0
        and held == position.reserved == min(on_hand, len(payloads))
        and backorders == len(payloads) - min(on_hand, len(payloads)),
    }


def refresh_flow(url: str, skus: int) -> dict[str, Any]:
    from django.db import connection

    from inventory.availability import availability_refresh_all
    from inventory.models import AvailabilityDirty, ChannelAvailability, Item, Location
    from inventory.services import allocation_set
    from retailsync.services import channel_create

    with (
        psycopg.connect(url, autocommit=True) as conn,
        conn.cursor().copy(
            "COPY inventory_item (sku, description, cost_currency, is_active) FROM STDIN"
        ) as copy,
    ):
        for n in range(skus):
            copy.write_row((f"SKU-{n:06d}", "", "", True))
    locations = {loc.code: loc.pk for loc in Location.objects.all()}
    items = list(Item.objects.filter(sku__startswith="SKU-").values_list("pk", flat=True))
    rows = io.StringIO()
    for n, item_id in enumerate(items):
        for k, code in enumerate(("WH1", "WH2", "WH3")):
            if k < 2 or n % 2:
                on_hand = (n * 7 + k) % 50
                reserved = min(n % 3, on_hand)
                rows.write(
                    f"{item_id}\t{locations[code]}\t{on_hand}\t{reserved}\t0\t0\t0"
                    f"\t2026-11-01 00:00:00+00\n"
                )
    with (
        psycopg.connect(url, autocommit=True) as conn,
        conn.cursor().copy(
            "COPY inventory_position (item_id, location_id, on_hand, "
            "reserved, in_transit, damaged, quality_hold, updated_at) "
            "FROM STDIN"
        ) as copy,
    ):
        copy.write(rows.getvalue())
    for code, feeding, extra in (
        ("web", ["WH1", "WH2"], {"safety_stock": 2}),
        ("amazon", ["WH1", "WH2", "WH3"], {"share_percent": 50}),
        ("stores", ["WH3"], {"cap": 20}),
    ):
        channel, _ = channel_create(code=code, source="canonical")
        allocation_set(channel=channel, locations=feeding, **extra)
    AvailabilityDirty.objects.all().delete()
    ChannelAvailability.objects.all().delete()
    written_first, first = timed(availability_refresh_all)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE inventory_position SET on_hand = on_hand + 1 WHERE id % 10 = 0")
    written_again, again = timed(availability_refresh_all)
    return {
        "skus": len(items),
        "channels": 3,
        "first_seconds": first,
        "rows_first": written_first,
        "again_seconds": again,
        "rows_again": written_again,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    url = bench_database_url()
    broker = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": broker,
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "CELERY_QUEUE": CELERY_QUEUE,
    }
    os.environ.update(env)
    database_recreate(url)
    manage(env, "migrate", "--noinput")
    import django

    django.setup()
    from inventory.services import item_upsert, location_upsert

    for code in ("WH1", "WH2", "WH3"):
        location_upsert(code=code, kind="warehouse")
    for n in range(400):
        item_upsert(sku=f"EV-{n:04d}")
    token = json.loads(
        manage(env, "create_user", "bench-ops", "--role", "operations").strip().splitlines()[-1]
    )["token"]

    quick = args.quick
    with gunicorn(ServerConfig("gthread", 4, 2), env) as (port, _pid):
        events = events_flow(port, token, batches=4 if quick else 20)
    bare = bare_update_flow(url, 1600 if quick else 8000)
    hot = hot_sku_flow(orders=800 if quick else 4000, on_hand=400 if quick else 2000)
    refresh = refresh_flow(url, 5000 if quick else 50_000)
    dropped = celery_queue_drop(broker)

    ratio = hot["rate"] / bare["rate"]
    rows = [
        ("echo (baseline)", f"{events['echo_rate']:.0f} req/s", "", "-"),
        (
            "events, batches of 500",
            f"{events['rate']:.0f} events/s",
            ">= 2000/s",
            "PASS" if events["rate"] >= TARGET_EVENTS else "FAIL",
        ),
        ("bare UPDATE x16 (baseline)", f"{bare['rate']:.0f} updates/s", "", "-"),
        (
            "hot-SKU reservations x16",
            f"{hot['rate']:.0f} orders/s ({ratio:.2f})",
            ">= 0.50 of UPDATE",
            "PASS" if ratio >= TARGET_HOT_RATIO else "FAIL",
        ),
        (
            f"availability {refresh['skus']} SKUs x 3, from empty",
            f"{refresh['first_seconds']:.2f} s",
            "<= 10 s",
            "PASS" if refresh["first_seconds"] <= TARGET_REFRESH_SECONDS else "FAIL",
        ),
        (
            "availability again, 10% changed",
            f"{refresh['again_seconds']:.2f} s",
            "<= 10 s",
            "PASS" if refresh["again_seconds"] <= TARGET_REFRESH_SECONDS else "FAIL",
        ),
    ]
    print(f"\n{'flow':40} {'result':28} {'target':20} verdict")
    for row in rows:
        print(f"{row[0]:40} {row[1]:28} {row[2]:20} {row[3]}")
    print(
        f"\nhot SKU: on hand {hot['on_hand']}, reserved {hot['reserved']}, held by reservations "
        f"{hot['held']}, oversells {hot['oversells']}, negative availability "
        f"{hot['negative_available']}, backorders {hot['backorders']} of {hot['orders']} orders"
    )
    print(
        f"availability rows written: {refresh['rows_first']} from empty, "
        f"{refresh['rows_again']} after the change; {dropped} queued tasks dropped"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"inventory-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(
        json.dumps(
            {
                "events": events,
                "bare_update": bare,
                "hot_sku": hot,
                "refresh": refresh,
                "quick": quick,
            },
            indent=2,
            default=str,
        )
    )
    print(f"saved {out}")
    correct = hot["ok"] and events["bad_answers"] == 0
    if not correct:
        print(f"CORRECTNESS FAILURE: {hot} {events}", file=sys.stderr)
    return 0 if correct else 1


if __name__ == "__main__":
    sys.exit(main())
