"""Inventory throughput of retailsync against the targets from the issue, each beside a baseline
measured in the same run, on a freshly created PostgreSQL database.

  1. stock events   POST /api/v1/inventory/events through gunicorn (started as bench/ingest.py
                    does), batches of 500 receipts, signed adjustments and reservations at random
                    positions of 5,000 SKUs x 3 locations, over 4 keep-alive connections.
                    Target >= 2,000 events/s. Baseline: the echo endpoint (a second gunicorn,
                    bench/harness.py) fed the same 500-event bodies (middleware, DRF, JSON
                    parsing, no database), counted
                    in events/s. For comparison, the rate of `stock_events_apply` called in this
                    process by one client (no HTTP, no request validation).
  2. hot SKU        16 client threads, each with its own database connection, call
                    `inventory.reservations.order_reserve` (the `order.accepted` handler) for
                    disjoint sets of 4,000 real single-unit orders (ingested in-process through
                    `orders.services.orders_ingest`) of ONE SKU with 2,000 units at WH1, so it
                    runs out half way. Target: >= 50 % of the rate of a bare
                    `UPDATE t SET qty = qty - 1 WHERE id = 1 AND qty > 0` by 16 client threads
                    (own psycopg connections, autocommit), measured first on a scratch table
                    whose counter, like the SKU, runs out half way. Every client first reserves
                    one warm-up order of another SKU, untimed. The same pair is then run with one
                    spawned process per client (no shared GIL), for comparison.
  3. availability   `inventory.availability.availability_refresh_all()` for 50,000 SKUs x 3
                    channels (133,333 positions at 2-3 of 3 locations, set up with COPY;
                    safety stock, item safety stock, a 50 % share and a cap of 20), timed from
                    empty and again after 10 % of positions changed. Target <= 10 s each.

Correctness, checked after each flow; any failure exits 1: every answer of the API; positions of
the event SKUs equal to a model of the events sent and to the sum of their ledger movements; a
redelivered batch counted as 500 duplicates; a batch with one impossible event refused whole
(422). For each hot SKU: no oversell (reserved + damaged + held <= on hand at every position,
active reservations == position.reserved == ledger == min(on hand, requested)), no negative
availability at any position, one backorder exception for exactly each order that got nothing.
Every channel figure equal to the same rules computed by one SQL statement, and the second
refresh rewriting exactly the figures that changed. A missed target prints FAIL and leaves the
exit status alone; setup failures exit 2.

After the table: CPU per unit by role (as bench/ingest.py), each refresh's time by statement
kind, and a diagnosis of `order_reserve` from instrumented runs (1 and 16 clients, on SKUs of
their own): statements per call on the reserving and the backordering path, how long the hot
position's row lock is waited for and held, and what fills the hold; and one event batch's
statements and the cost of the API's request validation. `--profile N` adds cProfile listings
(N functions each) of stock_events_apply, parse_events, order_reserve and a refresh.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/retailsync_bench \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/inventory.py [--quick]

About 3 minutes on 2 cores (--quick: under a minute). Like bench/ingest.py it runs production's
settings and the shipped gunicorn.conf.py (bench/harness.py), in a database it drops and
recreates (DATABASE_URL's if its name ends in `_bench`, else `retailsync_bench`) and a Celery
queue of its own that no worker consumes (dropped after the run): availability refresh and
event dispatch tasks are enqueued but never run. Results:
bench/results/inventory-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import queue
import random
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

from bench.harness import (
    DEFAULT_BROKER_URL,
    ECHO_APP,
    ECHO_PATH,
    RESULTS,
    PhaseResult,
    background_busy,
    bench_database_url,
    celery_queue_drop,
    cpu_sample,
    cpu_spent,
    database_recreate,
    describe_config,
    encode,
    gunicorn,
    http_post,
    manage,
    percentile,
    production_env,
    report_save,
    run,
    run_phase,
    shipped_config,
    status_problems,
)
from bench.profile_ingest import profile, statement_kind

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
        f"{'flow':<42}{'count':>8} {'unit':<10}{'seconds':>8}{'rate/s':>10}{'ratio':>7}  "
        f"{'target':<26}result"
    )
    print(f"\n{head}\n{'-' * len(head)}")
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:.3f}"
        print(
            f"{r.flow:<42}{r.count:>8} {r.unit:<10}{r.seconds:>8.2f}{r.rate:>10.1f}{ratio:>7}  "
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
    env = production_env(url, broker_url)
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
    found = {(sku, loc): tuple(row) for sku, loc, *row in rows}
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

    with gunicorn(env, ECHO_APP) as (port, pid):
        echo_request = http_post(port, ECHO_PATH, encode(http[0]), token)
        workers = shipped_config()["workers"]
        warm_echo = run_phase("warm-up echo", [echo_request] * (2 * workers), port, pid, 4)
        echo = run_phase("echo", [echo_request] * sizes.echo_batches, port, pid, connections)
        print(
            f"  echo:      {echo.requests * EVENT_BATCH / echo.seconds:7.0f} events/s", flush=True
        )
    with gunicorn(env) as (port, pid):
        warm_requests = [http_post(port, EVENTS_PATH, encode(b), token) for b in warm]
        http_requests = [http_post(port, EVENTS_PATH, encode(b), token) for b in http]

        def phase(name: str, requests: Sequence[bytes]) -> PhaseResult:
            return run_phase(name, requests, port, pid, connections, keep_bodies=True)

        warm_events = phase("warm-up events", warm_requests)
        applied = phase("events", http_requests)
        rate = len(http) * EVENT_BATCH / applied.seconds
        print(f"  HTTP:      {rate:7.0f} events/s", flush=True)
        # A redelivery applies nothing; a batch with one impossible event applies nothing.
        again = phase("redelivery", http_requests[:1])
        refused_batch = model.mixed_batches("refused", 1)[0]
        model.sent -= len(refused_batch)  # none of it may be stored
        for e in refused_batch:
            moved = model.reserved if e["type"] == "reservation" else model.on_hand
            moved[(e["sku"], e["location"])] -= e["quantity"]
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
    operations back to back; the clock stops when the last one is done. Clients finish
    (close their connections) only after the CPU time is read: a database backend that has
    exited takes its CPU time with it."""
    ready = threading.Barrier(clients + 1)
    finished = threading.Barrier(clients + 1)
    go, release = threading.Event(), threading.Event()
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
            with contextlib.suppress(threading.BrokenBarrierError):
                finished.wait()
            release.wait()
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
    try:
        with contextlib.suppress(threading.BrokenBarrierError):
            finished.wait()
        seconds = time.perf_counter() - began
        client_cpu = time.process_time() - client_before
        cpu = cpu_spent(cpu_before, cpu_sample(None), client_cpu, seconds)
    finally:
        release.set()
    for t in threads:
        t.join()
    ops = sorted(op for done in per_client for op in done)
    return Concurrent(seconds=seconds, cpu=cpu, ops=ops, errors=errors)


BARE_UPDATE = f"UPDATE {SCRATCH_TABLE} SET qty = qty - 1 WHERE id = 1 AND qty > 0"


def client_setup(spec: tuple[Any, ...]) -> tuple[list[Callable[[], Any]], Callable[[], None]]:
    """One client's connection and operations, made in the thread or process that runs them:
    ("bare", url, count) decrements the scratch counter; ("reserve", payloads, warm-up
    payloads) reserves orders (each operation's result is the units it got), after reserving
    the warm-up orders untimed (connection, statements, the Celery producer)."""
    if spec[0] == "bare":
        _, url, count = spec
        conn = psycopg.connect(url, autocommit=True)
        conn.execute("SELECT 1")
        return [lambda: conn.execute(BARE_UPDATE).rowcount] * count, conn.close
    from django.db import connection

    from inventory.reservations import order_reserve

    _, payloads, warm = spec
    for payload in warm:
        order_reserve(payload=payload)
    operations = [lambda p=p: sum(r.quantity for r in order_reserve(payload=p)) for p in payloads]
    return operations, connection.close


def run_threads(specs: Sequence[tuple[Any, ...]]) -> Concurrent:
    def prepare(n: int) -> tuple[list[Callable[[], Any]], Callable[[], None]]:
        return client_setup(specs[n])

    def finish(state: tuple[Any, Callable[[], None]] | None) -> None:
        if state is not None:
            state[1]()

    return run_clients(len(specs), prepare, lambda _n, state: state[0], finish)


def _process_client(spec: tuple[Any, ...], ready: Any, go: Any, out: Any, release: Any) -> None:
    """A client in a process of its own (spawned: Django is set up afresh). It stays until
    released, so that its CPU time can be read."""
    done: list[tuple[float, float, Any]] = []
    errors: list[str] = []
    try:
        if spec[0] == "reserve":
            import django

            django.setup()
        operations, finish = client_setup(spec)
    except Exception as exc:
        ready.abort()
        out.put(([], [f"client setup: {exc!r}"]))
        release.wait(60)
        return
    try:
        ready.wait()
        go.wait()
        for op in operations:
            began = time.perf_counter()
            result = op()
            done.append((began, time.perf_counter(), result))
    except Exception as exc:
        errors.append(repr(exc))
    out.put((done, errors))
    release.wait(60)
    finish()


def run_processes(specs: Sequence[tuple[Any, ...]]) -> Concurrent:
    """Like run_threads, one spawned process per client (no shared GIL). CPU of the client
    processes counts as "client"; the clock runs from the start to the last operation's end
    (CLOCK_MONOTONIC, the same in every process)."""
    ctx = multiprocessing.get_context("spawn")
    ready, go, out, release = ctx.Barrier(len(specs) + 1), ctx.Event(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_process_client, args=(s, ready, go, out, release)) for s in specs]
    for proc in procs:
        proc.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        ready.wait(timeout=300)
    cpu_before = cpu_sample(os.getpid())  # this process and its children: "server"
    began = time.perf_counter()
    go.set()
    results: list[tuple[list[Any], list[str]]] = []
    while len(results) < len(procs):
        try:
            results.append(out.get(timeout=1))
        except queue.Empty:
            # Clients exit only once released: an exit now is a crash, and nothing will come.
            if any(proc.exitcode is not None for proc in procs):
                release.set()
                raise RuntimeError("a client process died during the run") from None
    cpu_after = cpu_sample(os.getpid())
    release.set()
    for proc in procs:
        proc.join()
    ops = sorted((b - began, e - began, r) for done, _ in results for b, e, r in done)
    seconds = max((e for _, e, _ in ops), default=time.perf_counter() - began)
    cpu = cpu_spent(cpu_before, cpu_after, 0.0, seconds)
    cpu["client"], cpu["server"] = cpu["server"], 0.0
    return Concurrent(
        seconds=seconds, cpu=cpu, ops=ops, errors=[e for _, errs in results for e in errs]
    )


def bare_update_flow(
    url: str, clients: int, operations: int, units: int, processes: bool = False
) -> Concurrent:
    """`UPDATE … SET qty = qty - 1 WHERE id = 1 AND qty > 0` by `clients` autocommit
    connections, `operations` in all, on a fresh scratch counter that starts at `units`."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {SCRATCH_TABLE}")
        conn.execute(f"CREATE TABLE {SCRATCH_TABLE} (id int PRIMARY KEY, qty int NOT NULL)")
        conn.execute(f"INSERT INTO {SCRATCH_TABLE} VALUES (1, %s)", [units])
    specs = [("bare", url, operations // clients)] * clients
    run = run_processes(specs) if processes else run_threads(specs)
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
    from retailsync.core.models import Channel, DomainEvent
    from retailsync.core.services import channel_create

    item_upsert(sku=sku)
    stamp = datetime.fromisoformat(OCCURRED_AT)
    if on_hand:
        stock_events_apply(
            events=[
                EventInput(f"stock-{sku}", "bench", "receipt", sku, HOT_LOCATION, on_hand, stamp)
            ]
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


Entry = tuple[str, float, float, float]  # statement kind, start, end, thread CPU time at the end


@dataclass(slots=True)
class Statements:
    """One reservation: its statements as (kind, began, ended, this thread's CPU time at the
    end), COMMIT included; its start and end, and the thread's CPU time then."""

    began: float
    ended: float
    cpu_began: float
    cpu_ended: float
    log: list[Entry]
    units: int = 0  # reserved by the call: 0 is a backorder


def reserve_clients(
    payloads: Sequence[dict[str, Any]],
    warm: Sequence[dict[str, Any]],
    clients: int,
    processes: bool = False,
) -> Concurrent:
    """`clients` threads (or processes), each with its own database connection, reserve
    disjoint sets of the orders (each first reserves its share of `warm`, untimed); each
    operation's result is the units it got."""
    from django.db import connection

    connection.close()  # no connection of this thread's may be shared or forked
    specs = [("reserve", payloads[n::clients], warm[n::clients]) for n in range(clients)]
    return run_processes(specs) if processes else run_threads(specs)


def statements_logged() -> tuple[list[Entry], Callable[[], None]]:
    """Log every statement of this thread's Django connection as (kind, start, end), COMMIT
    included (Django runs it outside cursors); returns the log and a function that stops."""
    from django.db import connection

    log: list[Entry] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = statement_kind(sql) + (" FOR UPDATE" if "FOR UPDATE" in sql else "")
            log.append((kind, began, time.perf_counter(), time.thread_time()))

    commit = connection._commit

    def timed_commit() -> None:
        began = time.perf_counter()
        try:
            commit()
        finally:
            log.append(("COMMIT", began, time.perf_counter(), time.thread_time()))

    def stop() -> None:
        connection.execute_wrappers.remove(wrapper)
        del connection._commit

    connection.ensure_connection()
    connection._commit = timed_commit  # type: ignore[method-assign]
    connection.execute_wrappers.append(wrapper)
    return log, stop


def reserve_instrumented(
    payloads: Sequence[dict[str, Any]], warm: Sequence[dict[str, Any]], clients: int
) -> Concurrent:
    """Like reserve_clients in threads, each operation's result being its Statements."""
    from django.db import connection

    from inventory.reservations import order_reserve

    connection.close()

    def prepare(n: int) -> tuple[list[Entry], Callable[[], None]]:
        for payload in warm[n::clients]:
            order_reserve(payload=payload)
        return statements_logged()

    def reserve(payload: dict[str, Any], log: list[Entry]) -> Statements:
        log.clear()
        cpu, began = time.thread_time(), time.perf_counter()
        units = sum(r.quantity for r in order_reserve(payload=payload))
        return Statements(began, time.perf_counter(), cpu, time.thread_time(), list(log), units)

    def operations_of(n: int, state: tuple[list, Any]) -> list[Callable[[], Any]]:
        return [lambda p=p: reserve(p, state[0]) for p in payloads[n::clients]]

    def finish(state: tuple[list, Callable[[], None]] | None) -> None:
        if state is not None:
            state[1]()
        connection.close()

    return run_clients(clients, prepare, operations_of, finish)


def sql_summary(log: Sequence[Entry], seconds: float) -> dict[str, Any]:
    """Where a single-threaded call's wall time went: each kind of statement, and the rest."""
    kinds: dict[str, list[float]] = {}
    for kind, b, e, _ in log:
        kinds.setdefault(kind, [0, 0.0])
        kinds[kind][0] += 1
        kinds[kind][1] += e - b
    in_sql = sum(t for _, t in kinds.values())
    return {
        "seconds": round(seconds, 3),
        "in_sql_seconds": round(in_sql, 3),
        "python_seconds": round(seconds - in_sql, 3),
        "statements": {
            k: {"count": int(n), "seconds": round(t, 3)}
            for k, (n, t) in sorted(kinds.items(), key=lambda kv: -kv[1][1])
        },
    }


def hot_problems(sku: str, on_hand: int, payloads: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Oversells, negative availability and backorders after the hot-SKU run."""
    from django.db.models import F, Sum

    from inventory.models import Position, Reservation, StockMovement
    from retailsync.core.models import ExceptionItem

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
        "oversold_positions": sum(
            p.reserved + p.damaged + p.quality_hold > p.on_hand for p in positions
        ),
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


def path_profile(calls: Sequence[Statements]) -> dict[str, Any]:
    """Means per call (ms) for calls that took one path: the whole call, until the position's
    row lock is granted (the SELECT … FOR UPDATE's answer), the hold (from then to COMMIT's
    answer) and what fills it, after COMMIT (on-commit hooks); the calling thread's CPU time in
    each stage; and each kind of statement, its count per call and its time before and during
    the hold."""
    n = len(calls)
    if not n:
        return {"calls": 0}
    kinds: list[str] = []
    count: Counter[str] = Counter()
    before: Counter[str] = Counter()
    held: Counter[str] = Counter()
    holds: list[float] = []
    waits: list[float] = []
    totals: Counter[str] = Counter()
    for call in calls:
        lock = next((x for x in call.log if x[0].endswith("FOR UPDATE")), None)
        commit = max((x for x in call.log if x[0] == "COMMIT"), key=lambda x: x[2], default=None)
        commit_end, commit_cpu = (commit[2], commit[3]) if commit else (call.ended, call.cpu_ended)
        locked_at, locked_cpu = (lock[2], lock[3]) if lock else (commit_end, commit_cpu)
        for kind, b, e, _ in call.log:
            if kind not in kinds:
                kinds.append(kind)
            count[kind] += 1
            (held if b >= locked_at else before)[kind] += e - b
        totals["call"] += call.ended - call.began
        totals["until_locked"] += locked_at - call.began
        totals["hold"] += commit_end - locked_at
        totals["after_commit"] += call.ended - commit_end
        totals["cpu"] += call.cpu_ended - call.cpu_began
        totals["cpu_until_locked"] += locked_cpu - call.cpu_began
        totals["cpu_holding"] += commit_cpu - locked_cpu
        totals["cpu_after_commit"] += call.cpu_ended - commit_cpu
        holds.append(commit_end - locked_at)
        if lock:
            waits.append(lock[2] - lock[1])
    in_sql = sum(held.values())
    return {
        "calls": n,
        "statements_per_call": round(sum(count.values()) / n, 2),
        **{f"{k}_ms": ms(v / n) for k, v in totals.items()},
        "lock_wait_ms": ms(statistics.fmean(waits)) if waits else None,
        "hold_p95_ms": ms(percentile(holds, 95)),
        "hold_in_sql_ms": ms(in_sql / n),
        "hold_in_python_ms": ms((totals["hold"] - in_sql) / n),
        "statements": [
            {
                "kind": k,
                "per_call": round(count[k] / n, 2),
                "before_lock_ms": ms(before[k] / n),
                "holding_lock_ms": ms(held[k] / n),
            }
            for k in kinds
        ],
    }


def lock_profile(run: Concurrent) -> dict[str, Any]:
    """Instrumented reservations split by path (units reserved, or a backorder exception),
    and the hot row lock's duty cycle: holds never overlap, so their sum over the wall time
    is the share of time the lock was held, and 1 / mean hold the rate it allows."""
    calls = [s for _, _, s in run.ops]
    # By what the call got: one statement now reserves or backorders, whichever applies.
    backorder = [c for c in calls if not c.units]
    reserve = [c for c in calls if c not in backorder]
    profiles = {"reserve": path_profile(reserve), "backorder": path_profile(backorder)}
    holding = sum(p.get("hold_ms", 0) * p["calls"] for p in profiles.values()) / 1000
    return {
        **profiles,
        "calls": len(calls),
        "seconds": round(run.seconds, 3),
        "lock_busy_share": round(holding / run.seconds, 3),
        "rate_the_hold_allows_per_s": round(len(calls) / holding, 1) if holding else None,
        "errors": run.errors,
    }


def print_lock_profiles(solo: dict[str, Any], contended: dict[str, Any], clients: int) -> None:
    print("\ndiagnosis, order_reserve on a hot SKU (instrumented runs, means in ms per call):")
    columns = [
        (f"{n} cl. {path}", profiles[path])
        for n, profiles in ((1, solo), (clients, contended))
        for path in ("reserve", "backorder")
    ]
    print(f"  {'':<44}" + "".join(f"{title:>18}" for title, _ in columns))
    for label, key in (
        ("calls", "calls"),
        ("statements per call (COMMIT included)", "statements_per_call"),
        ("whole call", "call_ms"),
        ("until the row lock is granted", "until_locked_ms"),
        ("  of which waiting for it (FOR UPDATE)", "lock_wait_ms"),
        ("holding the row lock, until COMMIT returns", "hold_ms"),
        ("  of it in SQL statements and COMMIT", "hold_in_sql_ms"),
        ("  of it in Python between statements", "hold_in_python_ms"),
        ("holding the row lock, p95", "hold_p95_ms"),
        ("after COMMIT (on-commit hooks: Celery)", "after_commit_ms"),
        ("CPU time of the calling thread", "cpu_ms"),
        ("  until the lock is granted", "cpu_until_locked_ms"),
        ("  while holding the lock", "cpu_holding_ms"),
        ("  after COMMIT", "cpu_after_commit_ms"),
    ):
        print(f"  {label:<44}" + "".join(f"{p.get(key, '')!s:>18}" for _, p in columns))
    for title, key in (
        ("lock busy share of the run", "lock_busy_share"),
        ("rate the mean hold allows, /s", "rate_the_hold_allows_per_s"),
    ):
        print(f"  {title:<44}{solo[key]!s:>36}{contended[key]!s:>36}")
    for path in ("reserve", "backorder"):
        print(
            f"  {path} path, per call: ms before the lock, 1 client | ms holding it, 1 client | "
            f"ms holding it, {clients} clients"
        )
        loaded = {st["kind"]: st for st in contended[path].get("statements", [])}
        for st in solo[path].get("statements", []):
            print(
                f"    {st['per_call']:4.1f} x {st['kind']:<42}{st['before_lock_ms']:8.3f}"
                f"{st['holding_lock_ms']:8.3f}"
                f"{loaded.get(st['kind'], {}).get('holding_lock_ms', 0.0):8.3f}"
            )


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
    first_sql: dict[str, Any]
    second_sql: dict[str, Any]
    setup_seconds: float
    problems: list[str]


def refresh_flow(url: str, skus: int, profile_top: int = 0) -> RefreshOutcome:
    from django.db import connection

    from inventory.availability import availability_refresh_all
    from inventory.models import AvailabilityDirty, Item, Location
    from inventory.services import allocation_set
    from retailsync.core.services import channel_create

    setup_began = time.perf_counter()
    copy_rows(
        url,
        "COPY inventory_item (sku, description, cost_currency, is_active) FROM STDIN",
        [(f"SKU-{n:06d}", "", "", True) for n in range(skus)],
    )
    location = dict(Location.objects.values_list("code", "pk"))
    items = list(
        Item.objects.filter(sku__startswith="SKU-").order_by("pk").values_list("pk", flat=True)
    )
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
        (
            REFRESH_CHANNELS[0],
            {"locations": ["WH1", "WH2"], "safety_stock": 2, "item_safety_stock": item_safety},
        ),
        (
            REFRESH_CHANNELS[1],
            {"locations": ["WH2", "WH3"], "safety_stock": 1, "share_percent": 50},
        ),
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

    def refresh() -> tuple[int, float, dict[str, Any]]:
        """One timed refresh; its statements are logged (a few dozen: no measurable cost)."""
        log, stop = statements_logged()
        cpu, began = time.process_time(), time.perf_counter()
        written = availability_refresh_all()
        seconds = time.perf_counter() - began
        summary = {**sql_summary(log, seconds), "cpu_seconds": round(time.process_time() - cpu, 3)}
        stop()
        return written, seconds, summary

    first_written, first_seconds, first_sql = refresh()
    print(f"  from empty:   {first_seconds:6.2f} s, {first_written} figures", flush=True)
    after_first = figures_against_sql(url, channel_ids)
    if (after_first["missing"], after_first["extra"], after_first["wrong"]) != (0, 0, 0):
        problems.append(f"availability after the first refresh: {after_first}")
    if first_written != skus * len(channel_ids) or after_first["rows"] != first_written:
        problems.append(f"first refresh wrote {first_written}; {after_first['rows']} rows stored")

    with psycopg.connect(url, autocommit=True) as conn:
        changed = conn.execute(
            "UPDATE inventory_position SET on_hand = on_hand + 3, updated_at = now()"
            " WHERE id % 10 = 0"
        ).rowcount
    expected = figures_against_sql(url, channel_ids)["wrong"]
    second_written, second_seconds, second_sql = refresh()
    print(f"  10% changed:  {second_seconds:6.2f} s, {second_written} figures", flush=True)
    if profile_top:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DELETE FROM inventory_channelavailability")
        profile_calls(
            f"availability_refresh_all from empty, {skus} SKUs",
            [availability_refresh_all],
            profile_top,
            unit="figure",
            per_call=skus * len(channel_ids),
        )
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
        first_sql=first_sql,
        second_sql=second_sql,
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
    """cProfile (CPU time, bench/profile_ingest.py's listing) of calls made one after another
    in this process; its "per order" figure is per `unit` here."""
    from django.db import connection

    connection.ensure_connection()
    if unit != "order":
        label += f" ('order' below: one {unit})"
    profile(label, len(calls) * per_call, lambda: [c() for c in calls], top)
    connection.close()


# --- the run --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Inventory throughput against the issue's targets.")
    p.add_argument("--quick", action="store_true", help="a small smoke-test run (~1 minute)")
    p.add_argument("--clients", type=int, default=16, help="hot-SKU clients [16]")
    p.add_argument("--connections", type=int, default=4, help="HTTP connections for events [4]")
    p.add_argument("--refresh-skus", type=int, help="SKUs for the availability refresh [50000]")
    p.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile, top N [off]")
    p.add_argument(
        "--threads-only",
        action="store_true",
        help="skip the hot-SKU comparison with one process per client",
    )
    return p.parse_args(argv)


def cpu_per(cpu: dict[str, float], units: int) -> dict[str, float]:
    return {k: round(v / units * 1000, 3) for k, v in cpu.items()}


@dataclass(slots=True)
class HotOutcome:
    mode: str  # threads or processes
    bare: Concurrent
    hot: Concurrent
    checks: dict[str, Any]
    phases: dict[str, Any]
    problems: list[str]

    @property
    def ratio(self) -> float:
        return self.hot.rate / self.bare.rate


def hot_flow(url: str, sizes: Sizes, clients: int, sku: str, processes: bool) -> HotOutcome:
    """The bare UPDATE first, then reservations of a hot SKU by the same number of clients."""
    mode = "processes" if processes else "threads"
    bare = bare_update_flow(
        url,
        clients,
        sizes.hot_orders * sizes.bare_rounds,
        sizes.hot_on_hand * sizes.bare_rounds,
        processes,
    )
    print(f"  bare UPDATE x{clients} {mode}: {bare.rate:7.0f} /s", flush=True)
    payloads = hot_orders(sku, sizes.hot_on_hand, sizes.hot_orders, "bench-hot")
    warm = hot_orders(f"{sku}-WARM", clients, clients, "bench-hot")
    hot = reserve_clients(payloads, warm, clients, processes)
    print(f"  order_reserve x{clients} {mode}: {hot.rate:7.0f} /s", flush=True)
    check = hot_problems(sku, sizes.hot_on_hand, payloads)
    # The same calls take two paths: they reserve while units last, then backorder.
    last_unit = max((end for _, end, units in hot.ops if units), default=0.0)
    with_units = sum(1 for _, _, units in hot.ops if units)
    after = hot.seconds - last_unit
    phases = {
        "while_units_lasted_per_s": round(with_units / last_unit, 1) if last_unit else None,
        "backorders_after_per_s": round((hot.operations - with_units) / after, 1)
        if after > 0
        else None,
        "latency_ms": {f"p{q}": ms(percentile(hot.latencies, q)) for q in (50, 95, 99)},
        "bare_latency_ms": {f"p{q}": ms(percentile(bare.latencies, q)) for q in (50, 95, 99)},
    }
    problems = [*bare.errors, *hot.errors, *check["problems"]]
    if hot.operations != len(payloads):
        problems.append(f"{mode}: {hot.operations} of {len(payloads)} reservations ran")
    return HotOutcome(mode, bare, hot, check["checks"], phases, problems)


def diagnosis_flow(sizes: Sizes, clients: int, top: int) -> tuple[dict, dict, list[str]]:
    """Instrumented reservations, 1 and `clients` threads, on hot SKUs of their own."""
    solo_payloads = hot_orders("HOT-SOLO", sizes.solo_orders // 2, sizes.solo_orders, "bench-hot")
    warm = hot_orders("HOT-DIAG-WARM", clients * 4, clients * 4, "bench-hot")
    solo_run = reserve_instrumented(solo_payloads, warm[: clients * 2], 1)
    diag_payloads = hot_orders("HOT-DIAG", sizes.diag_orders // 2, sizes.diag_orders, "bench-hot")
    diag_run = reserve_instrumented(diag_payloads, warm[clients * 2 :], clients)
    problems = [
        *solo_run.errors,
        *diag_run.errors,
        *hot_problems("HOT-SOLO", sizes.solo_orders // 2, solo_payloads)["problems"],
        *hot_problems("HOT-DIAG", sizes.diag_orders // 2, diag_payloads)["problems"],
    ]
    if top:
        from inventory.reservations import order_reserve

        prof = hot_orders("HOT-PROF", sizes.solo_orders // 2, sizes.solo_orders, "bench-hot")
        profile_calls(
            f"order_reserve x{len(prof)}, one client (half of them backorders)",
            [lambda p=p: order_reserve(payload=p) for p in prof],
            top,
            unit="reservation",
        )
    return lock_profile(solo_run), lock_profile(diag_run), problems


def make_rows(
    events: EventsOutcome, hots: Sequence[HotOutcome], refresh: RefreshOutcome, clients: int
) -> list[Row]:
    echo_rate = events.echo.requests * EVENT_BATCH / events.echo.seconds
    http_rate = events.http_events / events.http.seconds
    inprocess_rate = events.inprocess_events / events.inprocess_seconds
    rows = [
        Row(
            "echo, 500-event bodies (baseline)",
            events.echo.requests * EVENT_BATCH,
            "events",
            events.echo.seconds,
            echo_rate,
            None,
            "",
            "-",
        ),
        Row(
            "events via HTTP, batches of 500",
            events.http_events,
            "events",
            events.http.seconds,
            http_rate,
            http_rate / echo_rate,
            f">= {TARGET_EVENTS:,.0f}/s",
            verdict(http_rate >= TARGET_EVENTS),
        ),
        Row(
            "stock_events_apply in-process, 1 client",
            events.inprocess_events,
            "events",
            events.inprocess_seconds,
            inprocess_rate,
            inprocess_rate / echo_rate,
            "(comparison)",
            "-",
        ),
    ]
    for h in hots:
        headline = h.mode == "threads"
        rows += [
            Row(
                f"bare UPDATE x{clients} {h.mode} (baseline)",
                h.bare.operations,
                "updates",
                h.bare.seconds,
                h.bare.rate,
                None,
                "",
                "-",
            ),
            Row(
                f"hot-SKU order_reserve x{clients} {h.mode}",
                h.hot.operations,
                "orders",
                h.hot.seconds,
                h.hot.rate,
                h.ratio,
                f">= {TARGET_HOT_RATIO:.0%} of bare UPDATE" if headline else "(comparison)",
                verdict(h.ratio >= TARGET_HOT_RATIO) if headline else "-",
            ),
        ]
    for label, seconds, written in (
        ("from empty", refresh.first_seconds, refresh.first_written),
        ("10% changed", refresh.second_seconds, refresh.second_written),
    ):
        rows.append(
            Row(
                f"availability_refresh_all, {label}",
                written,
                "rewritten",
                seconds,
                refresh.skus * refresh.channels / seconds,
                None,
                f"<= {TARGET_REFRESH:.0f} s",
                verdict(seconds <= TARGET_REFRESH),
            )
        )
    return rows


def print_details(
    events: EventsOutcome,
    hots: Sequence[HotOutcome],
    refresh: RefreshOutcome,
    solo: dict[str, Any],
    contended: dict[str, Any],
    clients: int,
) -> None:
    print(
        "(ratio: to the echo's events/s for events, to the bare UPDATE of the same kind of "
        "clients for reservations;\n availability: SKU x channel figures computed per second, "
        "count: figures written)"
    )
    print("\nCPU ms per unit:                          server  postgres  client   other    idle")
    lines = [
        ("echo (per event)", events.echo.cpu, events.echo.requests * EVENT_BATCH),
        ("events via HTTP (per event)", events.http.cpu, events.http_events),
    ]
    for h in hots:
        lines += [
            (f"bare UPDATE {h.mode} (per update)", h.bare.cpu, h.bare.operations),
            (f"order_reserve {h.mode} (per order)", h.hot.cpu, h.hot.operations),
        ]
    for label, cpu, units in lines:
        c = cpu_per(cpu, units)
        print(
            f"  {label:<38}{c['server']:>8.3f}{c['postgres']:>10.3f}{c['client']:>8.3f}"
            f"{c['other']:>8.3f}{c['idle']:>8.3f}"
        )
    print("  (client: the bench process and its client processes: Python, psycopg)")
    for h in hots:
        c, ph = h.checks, h.phases
        print(
            f"\nhot SKU, {h.mode}: {c['on_hand']} on hand, {c['requested']} requested, "
            f"{c['reserved']} reserved = {c['held_by_active_reservations']} held by active "
            f"reservations = {c['ledger_reserved']} in the ledger; oversold positions "
            f"{c['oversold_positions']}, negative availability "
            f"{c['negative_availability_positions']} (all positions); {c['orders_with_units']} "
            f"orders got a unit, {c['orders_with_nothing']} nothing, "
            f"{c['backorder_exceptions']} backorder exceptions"
        )
        print(
            f"  order_reserve latency p50 {ph['latency_ms']['p50']} ms, p95 "
            f"{ph['latency_ms']['p95']} ms (bare UPDATE p50 {ph['bare_latency_ms']['p50']} ms); "
            f"{ph['while_units_lasted_per_s']}/s while units lasted, "
            f"{ph['backorders_after_per_s']}/s backordering after"
        )
    print(
        f"\navailability: {refresh.skus} SKUs, {refresh.positions} positions, {refresh.channels}"
        f" channels, {refresh.dirty_marks} dirty marks drained by the first refresh; "
        f"{refresh.changed_positions} positions changed -> {refresh.expected_rewrites} figures "
        f"changed, {refresh.second_written} rewritten ({refresh.second_new_versions} new "
        f"versions); {refresh.stale_pool_after} stored rows keep an outdated `pool` (their "
        f"figure did not change, so they were not rewritten)"
    )
    for label, summary in (("from empty", refresh.first_sql), ("10% changed", refresh.second_sql)):
        kinds = ", ".join(
            f"{k} {v['count']}x {v['seconds']:.2f} s"
            for k, v in list(summary["statements"].items())[:4]
            if v["seconds"] >= 0.005
        )
        print(
            f"  refresh {label}: {summary['seconds']:.2f} s = {summary['in_sql_seconds']:.2f} s "
            f"in SQL + {summary['python_seconds']:.2f} s Python ({summary['cpu_seconds']:.2f} s "
            f"CPU in this process); SQL: {kinds}"
        )
    print_lock_profiles(solo, contended, clients)
    d = events.diagnosis
    print(
        f"\ndiagnosis, one batch of {EVENT_BATCH} events in-process: {d['statements_per_batch']} "
        f"statements ({d['sql_ms']} ms in SQL), stock_events_apply {d['apply_wall_ms']} ms wall /"
        f" {d['apply_cpu_ms']} ms CPU; the API's validation (parse_events) "
        f"{d['validation_cpu_ms']} ms CPU"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK_SIZES if args.quick else DEFAULT_SIZES
    if args.refresh_skus:
        sizes = Sizes(**{**asdict(sizes), "refresh_skus": args.refresh_skus})
    clients = args.clients
    url = bench_database_url()
    broker_url = os.environ.get("CELERY_BROKER_URL") or DEFAULT_BROKER_URL
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    started = time.perf_counter()

    busy_before = background_busy()
    if busy_before > 0.15:
        print(f"warning: {busy_before:.0%} of the CPUs were busy before the run started; other")
        print("work on this machine will lower the figures (see 'other' CPU below)")
    print(f"recreating {url}, migrating ...", flush=True)
    env = django_setup(url, broker_url)
    database_recreate(url)
    celery_queue_drop(broker_url)
    manage(env, "migrate", "--noinput", "-v0")
    import django

    django.setup()
    from inventory.services import location_upsert

    for code in LOCATIONS:
        location_upsert(code=code, kind="warehouse")

    # 3 runs first, so that its items and channels are all the database holds then.
    print(f"3. availability: {sizes.refresh_skus} SKUs x {len(REFRESH_CHANNELS)} channels")
    refresh = refresh_flow(url, sizes.refresh_skus, args.profile)

    print(
        f"1. stock events: {describe_config()}, {args.connections} connections, "
        f"{sizes.event_skus} SKUs x {len(LOCATIONS)} locations",
        flush=True,
    )
    events = events_flow(url, env, sizes, args.connections, args.profile)

    print(
        f"2. hot SKU: {clients} clients, {sizes.hot_orders} single-unit orders for "
        f"{sizes.hot_on_hand} units",
        flush=True,
    )
    hots = [hot_flow(url, sizes, clients, "HOT-0001", processes=False)]
    if not args.threads_only:
        hots.append(hot_flow(url, sizes, clients, "HOT-0002", processes=True))
    print("  diagnosis: instrumented runs on SKUs of their own", flush=True)
    solo, contended, diag_problems = diagnosis_flow(sizes, clients, args.profile)
    tasks_enqueued = celery_queue_drop(broker_url)

    rows = make_rows(events, hots, refresh, clients)
    print_table(rows)
    print_details(events, hots, refresh, solo, contended, clients)
    print(f"celery: {tasks_enqueued} tasks were enqueued (no worker ran them; dropped)")
    problems = [
        *events.problems,
        *(p for h in hots for p in h.problems),
        *diag_problems,
        *refresh.problems,
    ]
    for problem in problems:
        print(f"CORRECTNESS FAILURE: {problem}")
    if not problems:
        print("correctness: every check passed")

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"inventory-{run_id}.json"
    report = {
        "run": run_id,
        "quick": args.quick,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "busy_before_run": round(busy_before, 3),
        },
        "server": {"settings": env["DJANGO_SETTINGS_MODULE"], "gunicorn": shipped_config()},
        "http_connections": args.connections,
        "hot_clients": clients,
        "sizes": asdict(sizes),
        "targets": {
            "events_per_s": TARGET_EVENTS,
            "hot_ratio_to_bare_update": TARGET_HOT_RATIO,
            "refresh_seconds": TARGET_REFRESH,
        },
        "rows": [asdict(r) for r in rows],
        "cpu_ms_per_unit": {
            "echo": cpu_per(events.echo.cpu, events.echo.requests * EVENT_BATCH),
            "events_http": cpu_per(events.http.cpu, events.http_events),
            **{f"bare_update_{h.mode}": cpu_per(h.bare.cpu, h.bare.operations) for h in hots},
            **{f"order_reserve_{h.mode}": cpu_per(h.hot.cpu, h.hot.operations) for h in hots},
        },
        "events": {
            "inprocess_cpu_seconds": round(events.inprocess_cpu, 3),
            "seed_events": events.seed_events,
            "seed_seconds": round(events.seed_seconds, 2),
            "diagnosis": events.diagnosis,
        },
        "hot_sku": {h.mode: {**h.checks, **h.phases} for h in hots},
        "reservation_diagnosis": {"one_client": solo, f"{clients}_clients": contended},
        "refresh": {k: v for k, v in asdict(refresh).items() if k != "problems"},
        "celery_tasks_enqueued": tasks_enqueued,
        "correctness_problems": problems,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    return report_save(out, report, started, problems)


if __name__ == "__main__":
    run(main)
