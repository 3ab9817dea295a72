"""Inventory throughput of retailsync against the targets from the issue, each beside a baseline
measured in the same run, on a freshly created PostgreSQL database.

  1. stock events   POST /api/v1/inventory/events through gunicorn (started as bench/ingest.py
                    does), batches of 500 receipts, signed adjustments and reservations over
                    many SKUs at three locations. Target >= 2,000 events/s. Baseline: the echo
                    endpoint of bench/urls.py fed the same 500-event bodies (middleware, DRF and
                    JSON parsing, no database), as events/s. Also reported, for comparison: the
                    in-process rate of `inventory.services.stock_events_apply` (one client, no
                    HTTP, no request validation).
  2. hot SKU        16 client threads, each with its own database connection, call
                    `inventory.reservations.order_reserve` (the `order.accepted` handler) for
                    disjoint sets of real single-unit orders of ONE SKU that has half as many
                    units as orders, so it runs out half way. Target: >= 50 % of the rate of a
                    bare `UPDATE t SET qty = qty - 1 WHERE id = 1 AND qty > 0` by the same 16
                    clients (own psycopg connections, autocommit), run first on a scratch table
                    whose counter, like the SKU, runs out half way.
  3. availability   `inventory.availability.availability_refresh_all()` for 50,000 SKUs x 3
                    channels (positions at 2-3 of 3 locations; safety stock, item safety stock,
                    a share and a cap), from empty and again after 10 % of positions changed.
                    Target <= 10 s each.

Correctness is checked after every flow and any failure exits 1: every event answer, positions
equal to a model of the events sent and to the sum of their ledger movements, a redelivered
batch counted as duplicates, a batch with one impossible event refused whole; for the hot SKU 0
oversells (reserved <= on hand at every position, active reservations == position.reserved ==
min(on hand, requested)), 0 negative availability anywhere, one backorder exception for exactly
each order that got nothing; every channel figure equal to an independent SQL computation, and
the second refresh rewriting exactly the figures that changed. A missed target prints FAIL and
leaves the exit status alone; setup failures exit 2.

A diagnosis follows the table: statements per reservation by kind, the time the hot position's
row lock is held and how much of it is spent in PostgreSQL, with 1 and with 16 clients
(instrumented runs on SKUs of their own, not the timed one); statements per event batch and
the cost of the request validation. `--profile` adds cProfile listings.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/retailsync_bench \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/inventory.py [--quick]

Like bench/ingest.py it always works in `retailsync_bench` (dropped and recreated, whatever
DATABASE_URL names) and a Celery queue of its own that no worker consumes (dropped after the
run): availability refresh and event dispatch tasks are enqueued but never run. Figures are
saved as JSON in bench/results/inventory-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import random
import signal
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import (  # noqa: E402  (needs the project root on sys.path)
    CELERY_QUEUE,
    DEFAULT_BROKER_URL,
    ECHO_PATH,
    RESULTS,
    ROOT,
    SETTINGS,
    PhaseResult,
    ServerConfig,
    background_busy,
    bench_database_url,
    celery_queue_drop,
    cpu_sample,
    cpu_spent,
    database_recreate,
    encode,
    gunicorn,
    http_post,
    manage,
    percentile,
    run_phase,
    status_problems,
)
from bench.profile_ingest import profile, statement_kind  # noqa: E402

TARGET_EVENTS = 2000.0  # events/s through the API
TARGET_HOT_RATIO = 0.50  # of the bare UPDATE's rate
TARGET_REFRESH = 10.0  # seconds, each refresh

EVENTS_PATH = "/api/v1/inventory/events"
EVENT_BATCH = 500  # the most the API applies while the caller waits (inventory.api.SYNC_EVENTS)
EVENT_SOURCE = "bench-wms"
LOCATIONS = ("WH1", "WH2", "WH3")
OCCURRED_AT = "2026-11-20T10:00:00Z"
HOT_LOCATION = "WH1"
SCRATCH_TABLE = "bench_hot_counter"
REFRESH_CHANNELS = ("bench-web", "bench-marketplace", "bench-stores")


@dataclass(frozen=True, slots=True)
class Sizes:
    event_skus: int  # SKUs x 3 locations receive events
    warmup_batches: int  # through HTTP, not timed
    echo_batches: int  # echo requests with a 500-event body
    http_batches: int
    inprocess_batches: int
    hot_on_hand: int
    hot_orders: int  # single-unit orders for the hot SKU; a multiple of the client count
    bare_rounds: int  # the bare UPDATE runs this many times as many operations as orders
    diag_orders: int  # instrumented 16-client run (half of it has units)
    solo_orders: int  # instrumented 1-client run
    refresh_skus: int


DEFAULT_SIZES = Sizes(
    event_skus=5000,
    warmup_batches=8,
    echo_batches=200,
    http_batches=40,
    inprocess_batches=20,
    hot_on_hand=2000,
    hot_orders=4000,
    bare_rounds=4,
    diag_orders=800,
    solo_orders=200,
    refresh_skus=50_000,
)
QUICK_SIZES = Sizes(
    event_skus=600,
    warmup_batches=4,
    echo_batches=20,
    http_batches=6,
    inprocess_batches=3,
    hot_on_hand=160,
    hot_orders=320,
    bare_rounds=4,
    diag_orders=160,
    solo_orders=40,
    refresh_skus=5000,
)


# --- report ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    flow: str
    count: int
    unit: str
    seconds: float
    rate: float  # units per second
    ratio: float | None  # rate / the baseline's rate
    target: str
    verdict: str  # PASS, FAIL or "-" for baselines and comparisons


def print_table(rows: Sequence[Row]) -> None:
    head = (
        f"{'flow':<40}{'count':>8} {'unit':<11}{'seconds':>8}{'rate/s':>10}{'ratio':>7}  "
        f"{'target':<26}result"
    )
    print(f"\n{head}\n{'-' * len(head)}")
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:.3f}"
        print(
            f"{r.flow:<40}{r.count:>8} {r.unit:<11}{r.seconds:>8.2f}{r.rate:>10.1f}{ratio:>7}  "
            f"{r.target:<26}{r.verdict}"
        )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


# --- setup ----------------------------------------------------------------------------------


def django_setup(url: str, broker_url: str) -> dict[str, str]:
    """The environment of gunicorn and manage.py, also applied to this process, whose Django
    (the same settings) runs the in-process flows."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_QUEUE": CELERY_QUEUE,
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DEBUG": "0",
    }
    os.environ.update(env)
    return env


def copy_rows(url: str, statement: str, rows: Sequence[Sequence[Any]]) -> None:
    with (
        psycopg.connect(url, autocommit=True) as conn,
        conn.cursor().copy(statement) as copy,
    ):
        for row in rows:
            copy.write_row(row)


# --- 1. stock events ------------------------------------------------------------------------


class StockModel:
    """On hand and reserved per (SKU, location) as the events generated so far should leave
    them: events are drawn so that every batch applies (a refused one would fail the run)."""

    def __init__(self, skus: Sequence[str], rng: random.Random) -> None:
        self.skus = skus
        self.rng = rng
        self.on_hand: Counter[tuple[str, str]] = Counter()
        self.reserved: Counter[tuple[str, str]] = Counter()
        self.sent = 0

    def event(self, event_id: str, kind: str, sku: str, location: str, quantity: int) -> dict:
        key = (sku, location)
        if kind in ("receipt", "adjustment"):
            self.on_hand[key] += quantity
        elif kind == "reservation":
            self.reserved[key] += quantity
        assert self.on_hand[key] >= self.reserved[key] >= 0
        self.sent += 1
        return {
            "event_id": event_id,
            "source": EVENT_SOURCE,
            "type": kind,
            "sku": sku,
            "location": location,
            "quantity": quantity,
            "occurred_at": OCCURRED_AT,
        }

    def seed_batches(self, units: int) -> list[list[dict]]:
        events = [
            self.event(f"seed-{sku}-{loc}", "receipt", sku, loc, units)
            for sku in self.skus
            for loc in LOCATIONS
        ]
        return [events[i : i + EVENT_BATCH] for i in range(0, len(events), EVENT_BATCH)]

    def mixed_batches(self, tag: str, batches: int) -> list[list[dict]]:
        """Receipts (40 %), signed adjustments (30 %), reservations of 1-2 units (30 %), each
        at a random position; a take that the position cannot give becomes a receipt."""
        out = []
        for b in range(batches):
            batch = []
            for i in range(EVENT_BATCH):
                sku, loc = self.rng.choice(self.skus), self.rng.choice(LOCATIONS)
                free = self.on_hand[(sku, loc)] - self.reserved[(sku, loc)]
                draw = self.rng.random()
                kind, quantity = "receipt", self.rng.randint(1, 20)
                if draw < 0.3:
                    kind = "adjustment"
                    quantity = self.rng.choice((-3, -2, -1, 1, 2, 5, 10))
                    if -quantity > free:
                        quantity = -quantity
                elif draw < 0.6 and free >= 2:
                    kind, quantity = "reservation", self.rng.randint(1, 2)
                batch.append(self.event(f"{tag}-{b:05d}-{i:03d}", kind, sku, loc, quantity))
            out.append(batch)
        return out


def event_inputs(batch: Sequence[dict]) -> list[Any]:
    from inventory.services import EventInput

    stamp = datetime.fromisoformat(OCCURRED_AT)
    return [
        EventInput(
            e["event_id"], e["source"], e["type"], e["sku"], e["location"], e["quantity"], stamp
        )
        for e in batch
    ]


def events_apply_inprocess(batches: Sequence[Sequence[dict]]) -> tuple[float, float]:
    """Apply batches one after another in this process; (wall seconds, CPU seconds)."""
    from django.db import connection

    from inventory.services import stock_events_apply

    inputs = [event_inputs(b) for b in batches]
    connection.ensure_connection()
    cpu, began = time.process_time(), time.perf_counter()
    for events in inputs:
        result = stock_events_apply(events=events)
        if (result.applied, result.duplicates) != (len(events), 0):
            raise AssertionError(f"in-process batch: {result}")
    return time.perf_counter() - began, time.process_time() - cpu


def answer_problems(phase: PhaseResult, expected: dict[str, int]) -> list[str]:
    problems = status_problems(phase, 200)
    for n, body in enumerate(phase.bodies):
        if body and json.loads(body) != expected:
            problems.append(f"{phase.name}: batch {n} answered {body[:200]!r}, not {expected}")
            break
    return problems


def events_state_problems(url: str, model: StockModel) -> list[str]:
    """Positions of the event SKUs against the model, and against their ledger."""
    problems = []
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT i.sku, l.code, p.on_hand, p.reserved, p.damaged, p.quality_hold,"
            "       coalesce(m.on_hand, 0), coalesce(m.reserved, 0)"
            " FROM inventory_position p"
            " JOIN inventory_item i ON i.id = p.item_id"
            " JOIN inventory_location l ON l.id = p.location_id"
            " LEFT JOIN (SELECT item_id, location_id, sum(on_hand) AS on_hand,"
            "            sum(reserved) AS reserved FROM inventory_stockmovement"
            "            GROUP BY item_id, location_id) m"
            "   ON m.item_id = p.item_id AND m.location_id = p.location_id"
            " WHERE i.sku LIKE 'EV-%%'"
        ).fetchall()
        stored = conn.execute(
            "SELECT count(*) FROM inventory_stockevent WHERE source = %s", [EVENT_SOURCE]
        ).fetchone()
    found = {(sku, loc): row for sku, loc, *row in rows}
    wrong = [
        f"{key}: {found.get(key)} not on hand {model.on_hand[key]}, reserved {model.reserved[key]}"
        for key in model.on_hand
        if key not in found
        or found[key][0:2] != (model.on_hand[key], model.reserved[key])
        or found[key][2:4] != (0, 0)
    ]
    if wrong:
        problems.append(f"{len(wrong)} event positions differ from the events sent: {wrong[:3]}")
    ledger = [k for k, r in found.items() if (r[0], r[1]) != (r[4], r[5])]
    if ledger:
        problems.append(f"{len(ledger)} positions differ from their ledger movements: {ledger[:3]}")
    assert stored is not None
    if stored[0] != model.sent:
        problems.append(f"{stored[0]} stock events stored, {model.sent} sent")
    return problems


@dataclass(slots=True)
class EventsOutcome:
    echo: PhaseResult
    http: PhaseResult
    http_events: int
    inprocess_events: int
    inprocess_seconds: float
    inprocess_cpu: float
    seed_events: int
    seed_seconds: float
    diagnosis: dict[str, Any]
    problems: list[str]


def events_flow(
    url: str,
    env: dict[str, str],
    sizes: Sizes,
    config: ServerConfig,
    connections: int,
    profile_top: int = 0,
) -> EventsOutcome:
    from django.db import connection

    from inventory.api import parse_events
    from inventory.models import Item
    from inventory.services import stock_events_apply

    token = json.loads(
        manage(env, "create_user", "bench-ops", "--role", "operations").strip().splitlines()[-1]
    )["token"]
    skus = [f"EV-{n:05d}" for n in range(sizes.event_skus)]
    Item.objects.bulk_create([Item(sku=sku) for sku in skus])
    model = StockModel(skus, random.Random(20261127))
    seed = model.seed_batches(units=50)
    seed_seconds, _ = events_apply_inprocess(seed)  # creates the positions; not a result
    warm = model.mixed_batches("warm", sizes.warmup_batches)
    inprocess = model.mixed_batches("inproc", sizes.inprocess_batches)
    http = model.mixed_batches("http", sizes.http_batches)
    inprocess_seconds, inprocess_cpu = events_apply_inprocess(inprocess)
    connection.close()
    print(
        f"  in-process stock_events_apply: {len(inprocess) * EVENT_BATCH / inprocess_seconds:7.0f}"
        " events/s",
        flush=True,
    )

    with gunicorn(config, env) as (port, pid):
        echo_request = http_post(port, ECHO_PATH, encode(http[0]), token)
        warm_requests = [http_post(port, EVENTS_PATH, encode(b), token) for b in warm]
        http_requests = [http_post(port, EVENTS_PATH, encode(b), token) for b in http]

        def phase(name: str, requests: Sequence[bytes]) -> PhaseResult:
            return run_phase(name, requests, port, pid, connections, keep_bodies=True)

        warm_echo = phase("warm-up echo", [echo_request] * (2 * config.workers))
        warm_events = phase("warm-up events", warm_requests)
        echo = phase("echo", [echo_request] * sizes.echo_batches)
        print(f"  echo:      {echo.requests * EVENT_BATCH / echo.seconds:7.0f} events/s", flush=True)
        applied = phase("events", http_requests)
        rate = len(http) * EVENT_BATCH / applied.seconds
        print(f"  HTTP:      {rate:7.0f} events/s", flush=True)
        # A redelivery applies nothing; a batch with one impossible event applies nothing.
        again = phase("redelivery", http_requests[:1])
        refused_batch = model.mixed_batches("refused", 1)[0]
        model.sent -= len(refused_batch)  # none of it may be stored
        for e in refused_batch:
            if e["type"] == "receipt":
                model.on_hand[(e["sku"], e["location"])] -= e["quantity"]
            elif e["type"] == "adjustment":
                model.on_hand[(e["sku"], e["location"])] -= e["quantity"]
            else:
                model.reserved[(e["sku"], e["location"])] -= e["quantity"]
        refused_batch[-1] = {**refused_batch[-1], "type": "reservation", "quantity": 10**6}
        refused = run_phase(
            "refused", [http_post(port, EVENTS_PATH, encode(refused_batch), token)], port, pid, 1
        )

    diagnosis = events_diagnosis(model.mixed_batches("diag", 1)[0])
    if profile_top:
        batches = model.mixed_batches("profile", 4)
        inputs = [event_inputs(b) for b in batches]
        profile_calls(
            "stock_events_apply, 4 batches of 500",
            [lambda e=e: stock_events_apply(events=e) for e in inputs],
            profile_top,
            unit="event",
            per_call=EVENT_BATCH,
        )
        bodies = [encode(b) for b in batches]
        profile_calls(
            "request validation (parse_events) of 4 batches of 500",
            [lambda b=b: parse_events(json.loads(b)) for b in bodies],
            profile_top,
            unit="event",
            per_call=EVENT_BATCH,
        )

    problems = [
        *status_problems(warm_echo, 201),
        *status_problems(echo, 201),
        *answer_problems(warm_events, {"applied": EVENT_BATCH, "duplicates": 0}),
        *answer_problems(applied, {"applied": EVENT_BATCH, "duplicates": 0}),
        *answer_problems(again, {"applied": 0, "duplicates": EVENT_BATCH}),
        *status_problems(refused, 422),
        *events_state_problems(url, model),
    ]
    return EventsOutcome(
        echo=echo,
        http=applied,
        http_events=len(http) * EVENT_BATCH,
        inprocess_events=len(inprocess) * EVENT_BATCH,
        inprocess_seconds=inprocess_seconds,
        inprocess_cpu=inprocess_cpu,
        seed_events=sum(len(b) for b in seed),
        seed_seconds=seed_seconds,
        diagnosis=diagnosis,
        problems=problems,
    )


# --- 2. one hot SKU -------------------------------------------------------------------------


@dataclass(slots=True)
class Concurrent:
    """What a set of client threads did: wall time, CPU by role, and each operation's start and
    end (seconds from the clock's start) with its result."""

    seconds: float
    cpu: dict[str, float]  # server (none here), postgres, client (this process), other, idle
    ops: list[tuple[float, float, Any]]
    errors: list[str] = field(default_factory=list)

    @property
    def operations(self) -> int:
        return len(self.ops)

    @property
    def rate(self) -> float:
        return self.operations / self.seconds

    @property
    def latencies(self) -> list[float]:
        return [end - began for began, end, _ in self.ops]


def run_clients(
    clients: int,
    prepare: Callable[[int], Any],
    operations: Callable[[int, Any], Sequence[Callable[[], Any]]],
    finish: Callable[[Any], None],
) -> Concurrent:
    """Each client thread prepares (connects) before the clock starts, then runs its own
    operations back to back; the clock stops when the last one is done."""
    ready = threading.Barrier(clients + 1)
    go = threading.Event()
    per_client: list[list[tuple[float, float, Any]]] = [[] for _ in range(clients)]
    errors: list[str] = []
    clock = [0.0]

    def client(n: int) -> None:
        done = per_client[n]
        state = None
        try:
            state = prepare(n)
            ready.wait()
            go.wait()
            zero = clock[0]
            for op in operations(n, state):
                began = time.perf_counter()
                result = op()
                done.append((began - zero, time.perf_counter() - zero, result))
        except threading.BrokenBarrierError:
            errors.append(f"client {n}: another client failed to start")
        except Exception as exc:
            errors.append(f"client {n}: {exc!r}")
            ready.abort()
        finally:
            finish(state)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        ready.wait()
    cpu_before = cpu_sample(None)
    client_before = time.process_time()
    clock[0] = began = time.perf_counter()
    go.set()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - began
    client_cpu = time.process_time() - client_before
    cpu = cpu_spent(cpu_before, cpu_sample(None), client_cpu, seconds)
    ops = sorted(op for done in per_client for op in done)
    return Concurrent(seconds=seconds, cpu=cpu, ops=ops, errors=errors)


def bare_update_flow(url: str, clients: int, operations: int, units: int) -> Concurrent:
    """`UPDATE … SET qty = qty - 1 WHERE id = 1 AND qty > 0` by `clients` autocommit
    connections, `operations` in all, on a counter that starts at `units`."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {SCRATCH_TABLE}")
        conn.execute(f"CREATE TABLE {SCRATCH_TABLE} (id int PRIMARY KEY, qty int NOT NULL)")
        conn.execute(f"INSERT INTO {SCRATCH_TABLE} VALUES (1, %s)", [units])
    per_client = operations // clients
    statement = f"UPDATE {SCRATCH_TABLE} SET qty = qty - 1 WHERE id = 1 AND qty > 0"

    def operations_of(_n: int, conn: psycopg.Connection) -> list[Callable[[], int]]:
        return [lambda: conn.execute(statement).rowcount] * per_client

    def finish(conn: psycopg.Connection | None) -> None:
        if conn is not None:
            conn.close()

    run = run_clients(
        clients, lambda _n: psycopg.connect(url, autocommit=True), operations_of, finish
    )
    with psycopg.connect(url, autocommit=True) as conn:
        left = conn.execute(f"SELECT qty FROM {SCRATCH_TABLE}").fetchone()
        conn.execute(f"DROP TABLE {SCRATCH_TABLE}")
    decremented = sum(result for _, _, result in run.ops)
    assert left is not None
    if decremented != min(units, run.operations) or left[0] != units - decremented:
        run.errors.append(f"bare UPDATE: {decremented} decrements, counter {units} -> {left[0]}")
    return run


def hot_orders(sku: str, on_hand: int, orders: int, channel_code: str) -> list[dict[str, Any]]:
    """The hot SKU with `on_hand` units at WH1, and `orders` accepted single-unit orders for it
    (ingested in-process as canonical JSON): the `order.accepted` payloads, in order."""
    from inventory.services import EventInput, item_upsert, stock_events_apply
    from orders.services import orders_ingest
    from retailsync.models import Channel, DomainEvent
    from retailsync.services import channel_create

    item_upsert(sku=sku)
    stamp = datetime.fromisoformat(OCCURRED_AT)
    if on_hand:
        stock_events_apply(
            events=[EventInput(f"stock-{sku}", "bench", "receipt", sku, HOT_LOCATION, on_hand, stamp)]
        )
    channel = Channel.objects.filter(code=channel_code).first()
    if channel is None:
        channel, _ = channel_create(code=channel_code, source="canonical")
    order_ids = []
    for start in range(0, orders, 500):
        outcomes = orders_ingest(
            channel=channel,
            headers={},
            payloads=[
                {
                    "external_id": f"{sku}-{n:06d}",
                    "order_number": f"#{n}",
                    "currency": "USD",
                    "placed_at": OCCURRED_AT,
                    "prices_include_tax": False,
                    "customer_email": f"hot{n}@example.com",
                    "fulfilment_location": HOT_LOCATION,
                    "lines": [
                        {
                            "id": "L1",
                            "sku": sku,
                            "quantity": 1,
                            "unit_price": "10.00",
                            "discount": "0",
                            "tax": "0.83",
                        }
                    ],
                    "shipping": {"amount": "0", "discount": "0", "tax": "0"},
                    "payments": [{"gateway": "stripe", "reference": f"ch_{n}", "amount": "10.83"}],
                    "total": "10.83",
                }
                for n in range(start, min(start + 500, orders))
            ],
        )
        bad = [o for o in outcomes if o.status != "created"]
        if bad:
            raise RuntimeError(f"ingesting hot-SKU orders: {bad[:2]}")
        order_ids += [str(o.order_id) for o in outcomes]
    payloads = [
        e.payload
        for e in DomainEvent.objects.filter(
            name="order.accepted", aggregate_id__in=order_ids
        ).order_by("pk")
    ]
    if len(payloads) != orders:
        raise RuntimeError(f"{len(payloads)} order.accepted events for {orders} orders")
    return payloads


@dataclass(slots=True)
class Statements:
    """One reservation's statements as (kind, began, ended), COMMIT included."""

    began: float
    ended: float
    log: list[tuple[str, float, float]]


def reserve_clients(
    payloads: Sequence[dict[str, Any]], clients: int, instrument: bool = False
) -> Concurrent:
    """`clients` threads, each with its own Django connection, reserve disjoint orders.
    Instrumented: each operation's result is its Statements instead of the units reserved."""
    from django.db import connection

    from inventory.reservations import order_reserve

    connection.close()  # the threads open their own

    def prepare(_n: int) -> list[tuple[str, float, float]] | None:
        connection.ensure_connection()
        if not instrument:
            return None
        log: list[tuple[str, float, float]] = []

        def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            began = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                log.append((statement_kind(sql) + (" FOR UPDATE" if "FOR UPDATE" in sql else ""),
                            began, time.perf_counter()))

        commit = connection._commit

        def timed_commit() -> None:
            began = time.perf_counter()
            try:
                commit()
            finally:
                log.append(("COMMIT", began, time.perf_counter()))

        connection._commit = timed_commit  # type: ignore[method-assign]
        connection.execute_wrappers.append(wrapper)
        return log

    def reserve(payload: dict[str, Any], log: list | None) -> Any:
        if log is None:
            return sum(r.quantity for r in order_reserve(payload=payload))
        log.clear()
        began = time.perf_counter()
        order_reserve(payload=payload)
        return Statements(began, time.perf_counter(), list(log))

    def operations_of(n: int, log: list | None) -> list[Callable[[], Any]]:
        return [lambda p=p: reserve(p, log) for p in payloads[n::clients]]

    def finish(_log: Any) -> None:
        connection.execute_wrappers.clear()
        connection.close()

    return run_clients(clients, prepare, operations_of, finish)


def hot_problems(sku: str, on_hand: int, payloads: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Oversells, negative availability and backorders after the hot-SKU run."""
    from django.db.models import F, Sum

    from inventory.models import Position, Reservation, StockMovement
    from retailsync.models import ExceptionItem

    requested = sum(line["quantity"] for p in payloads for line in p["lines"])
    order_ids = {p["order_id"] for p in payloads}
    positions = list(Position.objects.filter(item__sku=sku))
    active = Reservation.objects.filter(item__sku=sku, status="active")
    held_at = dict(
        active.values("location_id").annotate(n=Sum("quantity")).values_list("location_id", "n")
    )
    reserved_orders = Counter(active.values_list("order_id", flat=True))
    backorders = list(
        ExceptionItem.objects.filter(kind="backorder", object_id__in=[str(i) for i in order_ids])
    )
    backordered = Counter(int(b.object_id) for b in backorders)
    ledger = StockMovement.objects.filter(item__sku=sku).aggregate(r=Sum("reserved"))["r"] or 0
    reserved = sum(p.reserved for p in positions)
    expected = min(on_hand, requested)
    nothing = order_ids - set(reserved_orders)
    checks = {
        "on_hand": sum(p.on_hand for p in positions),
        "requested": requested,
        "reserved": reserved,
        "held_by_active_reservations": sum(held_at.values()),
        "ledger_reserved": ledger,
        "oversold_positions": sum(p.reserved + p.damaged + p.quality_hold > p.on_hand for p in positions),
        "negative_availability_positions": Position.objects.filter(
            on_hand__lt=F("reserved") + F("damaged") + F("quality_hold")
        ).count(),
        "positions_unlike_their_reservations": sum(
            p.reserved != held_at.get(p.location_id, 0) for p in positions
        ),
        "orders_with_units": len(reserved_orders),
        "orders_with_nothing": len(nothing),
        "orders_reserved_twice": sum(n > 1 for n in reserved_orders.values()),
        "backorder_exceptions": len(backorders),
        "backorder_occurrences": sum(b.occurrences for b in backorders),
        "backorders_for_orders_with_units": len(set(backordered) & set(reserved_orders)),
    }
    problems = []
    if checks["oversold_positions"] or checks["negative_availability_positions"]:
        problems.append("oversold or negative availability")
    if not reserved == checks["held_by_active_reservations"] == ledger == expected:
        problems.append(
            f"reserved {reserved}, held by reservations {checks['held_by_active_reservations']}, "
            f"ledger {ledger}, expected min(on hand, requested) = {expected}"
        )
    if checks["positions_unlike_their_reservations"] or checks["orders_reserved_twice"]:
        problems.append("a position differs from its reservations, or an order reserved twice")
    if (
        set(backordered) != nothing
        or checks["backorder_occurrences"] != len(nothing)
        or checks["backorders_for_orders_with_units"]
    ):
        problems.append(
            f"{len(backordered)} orders with a backorder ({checks['backorder_occurrences']} "
            f"occurrences), {len(nothing)} orders got nothing"
        )
    return {"checks": checks, "problems": [f"hot SKU {sku}: {p}" for p in problems]}


def lock_profile(run: Concurrent) -> dict[str, Any]:
    """From instrumented reservations: statements per reservation by kind, the row lock's wait
    and hold (from the SELECT … FOR UPDATE's answer to COMMIT's), and what fills the hold."""
    kinds: Counter[str] = Counter()
    wait, hold, in_sql, before, total = [], [], [], [], []
    statements = [s for _, _, s in run.ops]
    for s in statements:
        kinds.update(kind for kind, _, _ in s.log)
        locks = [(b, e) for kind, b, e in s.log if kind.endswith("FOR UPDATE")]
        commits = [e for kind, _, e in s.log if kind == "COMMIT"]
        total.append(s.ended - s.began)
        if not locks or not commits:
            continue
        locked_at = locks[0][1]
        wait.append(locks[0][1] - locks[0][0])
        before.append(locks[0][0] - s.began)
        hold.append(commits[-1] - locked_at)
        in_sql.append(sum(e - b for _, b, e in s.log if b >= locked_at))
    n = max(len(statements), 1)

    def summary(values: list[float]) -> dict[str, float]:
        if not values:
            return {}
        return {
            "mean_ms": ms(statistics.fmean(values)),
            "p50_ms": ms(percentile(values, 50)),
            "p95_ms": ms(percentile(values, 95)),
        }

    holding = sum(hold)
    return {
        "reservations": len(statements),
        "statements_per_reservation": round(sum(kinds.values()) / n, 2),
        "by_kind": {k: round(v / n, 2) for k, v in kinds.most_common()},
        "call": summary(total),
        "before_lock": summary(before),
        "lock_wait": summary(wait),
        "lock_hold": summary(hold),
        "hold_in_postgres_share": round(sum(in_sql) / holding, 3) if holding else None,
        # Holds never overlap (one row): their sum over the wall time is the lock's duty cycle.
        "lock_busy_share": round(holding / run.seconds, 3),
        "max_rate_at_this_hold": round(len(hold) / holding, 1) if holding else None,
    }


# --- 3. availability ------------------------------------------------------------------------

EXPECTED_FIGURES = """
WITH ch AS (
    SELECT a.id AS allocation_id, a.channel_id, a.safety_stock, a.share_percent, a.cap
    FROM inventory_channelallocation a WHERE a.channel_id = ANY(%(channels)s)
), pools AS (
    SELECT ch.channel_id, p.item_id,
           sum(greatest(p.on_hand - p.reserved - p.damaged - p.quality_hold, 0)) AS pool
    FROM ch JOIN inventory_channellocation cl ON cl.allocation_id = ch.allocation_id
    JOIN inventory_position p ON p.location_id = cl.location_id
    GROUP BY ch.channel_id, p.item_id
), base AS (
    SELECT ch.channel_id, i.id AS item_id, coalesce(pools.pool, 0) AS pool,
           coalesce(pools.pool, 0) - coalesce(r.safety_stock, ch.safety_stock) AS v0,
           ch.share_percent, ch.cap
    FROM ch CROSS JOIN inventory_item i
    LEFT JOIN pools ON pools.channel_id = ch.channel_id AND pools.item_id = i.id
    LEFT JOIN inventory_channelitemrule r
        ON r.allocation_id = ch.allocation_id AND r.item_id = i.id
), shaped AS (
    SELECT channel_id, item_id, pool, cap,
           CASE WHEN share_percent IS NULL THEN v0
                ELSE floor(greatest(v0, 0) * share_percent / 100) END AS v1
    FROM base
), expected AS (
    SELECT channel_id, item_id, pool,
           greatest(CASE WHEN cap IS NOT NULL AND v1 > cap THEN cap ELSE v1 END, 0) AS available
    FROM shaped
)
SELECT count(*) FILTER (WHERE a.item_id IS NULL) AS missing,
       count(*) FILTER (WHERE e.item_id IS NULL) AS extra,
       count(*) FILTER (WHERE a.available <> e.available) AS wrong,
       count(*) FILTER (WHERE a.available = e.available AND a.pool <> e.pool) AS stale_pool,
       count(*) AS expected_rows
FROM expected e FULL JOIN (
    SELECT channel_id, item_id, available, pool FROM inventory_channelavailability
    WHERE channel_id = ANY(%(channels)s)
) a ON a.channel_id = e.channel_id AND a.item_id = e.item_id
"""


def figures_against_sql(url: str, channels: list[int]) -> dict[str, int]:
    """Stored channel figures against the same rules computed by PostgreSQL: rows missing,
    extra, with another `available`, and with the right figure but an outdated `pool`."""
    with psycopg.connect(url) as conn:
        row = conn.execute(EXPECTED_FIGURES, {"channels": channels}).fetchone()
        versions = conn.execute(
            "SELECT count(*), coalesce(max(version), 0) FROM inventory_channelavailability"
        ).fetchone()
    assert row is not None and versions is not None
    names = ("missing", "extra", "wrong", "stale_pool", "expected_rows")
    return {**dict(zip(names, row, strict=True)), "rows": versions[0], "max_version": versions[1]}


@dataclass(slots=True)
class RefreshOutcome:
    skus: int
    positions: int
    channels: int
    dirty_marks: int
    first_seconds: float
    first_written: int
    changed_positions: int
    expected_rewrites: int
    second_seconds: float
    second_written: int
    second_new_versions: int
    stale_pool_after: int
    setup_seconds: float
    problems: list[str]


def refresh_flow(url: str, skus: int) -> RefreshOutcome:
    from django.db import connection

    from inventory.availability import availability_refresh_all
    from inventory.models import AvailabilityDirty, Item, Location
    from inventory.services import allocation_set
    from retailsync.services import channel_create

    setup_began = time.perf_counter()
    copy_rows(
        url,
        "COPY inventory_item (sku, description, cost_currency, is_active) FROM STDIN",
        [(f"SKU-{n:06d}", "", "", True) for n in range(skus)],
    )
    location = dict(Location.objects.values_list("code", "pk"))
    items = list(Item.objects.filter(sku__startswith="SKU-").order_by("pk").values_list("pk", flat=True))
    rng = random.Random(50_000)
    now = datetime.now(UTC)
    positions = []
    for n, item_id in enumerate(items):
        # Every item at WH1 and WH2, two in three at WH3 too.
        for code in LOCATIONS if n % 3 else LOCATIONS[:2]:
            on_hand = rng.randint(0, 60)
            reserved = rng.randint(0, on_hand // 2)
            damaged = rng.randint(0, 2) if on_hand - reserved >= 2 and rng.random() < 0.1 else 0
            positions.append((item_id, location[code], on_hand, reserved, 0, damaged, 0, now))
    copy_rows(
        url,
        "COPY inventory_position (item_id, location_id, on_hand, reserved, in_transit, damaged,"
        " quality_hold, updated_at) FROM STDIN",
        positions,
    )
    channel_ids = []
    item_safety = {f"SKU-{n:06d}": 5 for n in range(0, skus, 97)}
    for code, rules in (
        (REFRESH_CHANNELS[0], {"locations": ["WH1", "WH2"], "safety_stock": 2,
                               "item_safety_stock": item_safety}),
        (REFRESH_CHANNELS[1], {"locations": ["WH2", "WH3"], "safety_stock": 1,
                               "share_percent": 50}),
        (REFRESH_CHANNELS[2], {"locations": ["WH3", "WH1"], "cap": 20}),
    ):
        channel, _ = channel_create(code=code, source="canonical")
        allocation_set(channel=channel, **rules)
        channel_ids.append(channel.pk)
    dirty = AvailabilityDirty.objects.count()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    setup_seconds = time.perf_counter() - setup_began
    problems = []

    connection.ensure_connection()
    began = time.perf_counter()
    first_written = availability_refresh_all()
    first_seconds = time.perf_counter() - began
    print(f"  from empty:   {first_seconds:6.2f} s, {first_written} figures", flush=True)
    after_first = figures_against_sql(url, channel_ids)
    if (after_first["missing"], after_first["extra"], after_first["wrong"]) != (0, 0, 0):
        problems.append(f"availability after the first refresh: {after_first}")
    if first_written != skus * len(channel_ids) or after_first["rows"] != first_written:
        problems.append(f"first refresh wrote {first_written}; {after_first['rows']} rows stored")

    with psycopg.connect(url, autocommit=True) as conn:
        changed = conn.execute(
            "UPDATE inventory_position SET on_hand = on_hand + 3, updated_at = now()"
            " WHERE id %% 10 = 0"
        ).rowcount
    expected = figures_against_sql(url, channel_ids)["wrong"]
    began = time.perf_counter()
    second_written = availability_refresh_all()
    second_seconds = time.perf_counter() - began
    print(f"  10% changed:  {second_seconds:6.2f} s, {second_written} figures", flush=True)
    connection.close()
    after_second = figures_against_sql(url, channel_ids)
    with psycopg.connect(url) as conn:
        fresh = conn.execute(
            "SELECT count(*) FROM inventory_channelavailability WHERE version > %s",
            [after_first["max_version"]],
        ).fetchone()
    assert fresh is not None
    if (after_second["missing"], after_second["extra"], after_second["wrong"]) != (0, 0, 0):
        problems.append(f"availability after the second refresh: {after_second}")
    if not second_written == expected == fresh[0]:
        problems.append(
            f"second refresh wrote {second_written} figures ({fresh[0]} new versions); "
            f"{expected} had changed"
        )
    return RefreshOutcome(
        skus=skus,
        positions=len(positions),
        channels=len(channel_ids),
        dirty_marks=dirty,
        first_seconds=first_seconds,
        first_written=first_written,
        changed_positions=changed,
        expected_rewrites=expected,
        second_seconds=second_seconds,
        second_written=second_written,
        second_new_versions=fresh[0],
        stale_pool_after=after_second["stale_pool"],
        setup_seconds=setup_seconds,
        problems=problems,
    )


# --- diagnosis ------------------------------------------------------------------------------


def events_diagnosis(batch: list[dict]) -> dict[str, Any]:
    """One 500-event batch in-process: its statements, and the request validation's cost."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from inventory.api import parse_events
    from inventory.services import stock_events_apply

    body = encode(batch)
    began = time.process_time()
    for _ in range(3):
        events = parse_events(json.loads(body))
    parse_cpu = (time.process_time() - began) / 3
    with CaptureQueriesContext(connection) as queries:
        began_wall, began = time.perf_counter(), time.process_time()
        stock_events_apply(events=events)
        apply_cpu, apply_wall = time.process_time() - began, time.perf_counter() - began_wall
    connection.close()
    kinds = Counter(statement_kind(q["sql"]) for q in queries)
    return {
        "statements_per_batch": len(queries),
        "by_kind": dict(kinds.most_common()),
        "sql_ms": round(sum(float(q["time"]) for q in queries) * 1000, 1),
        "validation_cpu_ms": ms(parse_cpu),
        "apply_cpu_ms": ms(apply_cpu),
        "apply_wall_ms": ms(apply_wall),
    }


def profile_calls(
    label: str,
    calls: Sequence[Callable[[], Any]],
    top: int,
    unit: str = "order",
    per_call: int = 1,
) -> None:
    """cProfile (CPU time) of calls made one after another in this process."""
    from django.db import connection

    connection.ensure_connection()
    profile(label, len(calls) * per_call, lambda: [c() for c in calls], top, unit=unit)
    connection.close()


