"""Event dispatch measured beside ingestion: real Celery workers drain what ingestion left.

The workers are started (`celery -A retailsync worker --concurrency=1`, production settings, as
many as asked, two by default) before anything is measured, consuming a parking queue of their
own: idle. When a backlog is to be drained, each is told to consume the bench's queue (Celery's
`add_consumer` control command), where the relay request that ingestion's commits asked for
waits; the first relay run asks for help after a full chunk, and the second worker joins. The
drain ends when no event waits; the workers then finish what else was asked meanwhile (the
availability refresh of the reserved SKUs) and are parked again before the next phase.

Per drain: events dispatched per second and orders reserved per second over the drain's wall
time, and the lag of the last order accepted: from its acceptance (the order's `created_at`) to
its reservation (the reservation's `created_at`), which includes the drain of everything before
it. A live drain lets the workers loose before the orders come in: dispatch runs beside
ingestion, and the last order's lag says whether it kept up. Two cases: "hot", every order's lines on the same two SKUs (and one of a catalogue of
10,000), and "many", three SKUs of the catalogue per order.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg

from bench.harness import (
    CELERY_QUEUE,
    ROOT,
    cpu_merged,
    cpu_sample,
    cpu_spent,
    manage,
    process_stop,
)

CATALOG = 10_000
HOT_SKUS = ("HOT-A", "HOT-B")
LOCATION = "WH1"
PARKED = f"{CELERY_QUEUE}-parked"


def order_skus(case: str, seq: int) -> tuple[str, str, str]:
    """The SKUs of an order's three lines: two hot ones and one of the catalogue ("hot"), or
    three of the catalogue ("many"), different from line to line."""
    if case == "hot":
        return (*HOT_SKUS, f"CAT-{seq % CATALOG:05d}")
    first = seq * 3 % CATALOG
    return tuple(f"CAT-{(first + k) % CATALOG:05d}" for k in range(3))  # type: ignore[return-value]


_STOCK = f"""
from django.utils import timezone
from inventory.models import Item
from inventory.services import EventInput, location_upsert, stock_events_apply
location_upsert(code={LOCATION!r}, kind="warehouse")
skus = [*{HOT_SKUS!r}, *(f"CAT-{{n:05d}}" for n in range({CATALOG}))]
Item.objects.bulk_create([Item(sku=sku) for sku in skus])
now = timezone.now()
for i in range(0, len(skus), 500):
    stock_events_apply(events=[
        EventInput(f"seed-{{sku}}", "bench", "receipt", sku, {LOCATION!r},
                   10_000_000 if sku.startswith("HOT") else 100_000, now)
        for sku in skus[i:i + 500]
    ])
"""


def stock_setup(env: dict[str, str]) -> None:
    """The items, the warehouse the orders name, and stock for every order of the run."""
    manage(env, "shell", "-c", _STOCK)


@dataclass
class Workers:
    """Celery worker processes, parked or consuming the bench's queue."""

    names: list[str]
    procs: list[subprocess.Popen[bytes]]
    logs: list[IO[bytes]]
    broker_url: str
    app: Any = field(init=False)

    def __post_init__(self) -> None:
        from celery import Celery

        # Not the current app: in a process that also publishes through Django (the order
        # load of bench/settlements.py) tasks must keep going to the project's app and queue.
        self.app = Celery("bench", broker=self.broker_url, set_as_current=False)

    @property
    def roles(self) -> dict[int, str]:
        return {p.pid: "workers" for p in self.procs}

    def _control(self, command: str, queue: str) -> None:
        replies = getattr(self.app.control, command)(
            queue, destination=self.names, reply=True, timeout=5
        )
        if len(replies) != len(self.names):
            raise RuntimeError(f"{command} {queue}: answers from {len(replies)} workers only")

    def unpark(self) -> None:
        self._control("add_consumer", CELERY_QUEUE)

    def park(self) -> None:
        self._control("cancel_consumer", CELERY_QUEUE)

    def settle(self, timeout: float = 120) -> None:
        """Until the bench's queue is empty and no worker has a task in hand."""
        import redis

        client = redis.Redis.from_url(self.broker_url)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                active = self.app.control.inspect(destination=self.names, timeout=1).active()
                busy = any(active.values()) if active else True
                if not busy and client.llen(CELERY_QUEUE) == 0:
                    return
                time.sleep(0.1)
        finally:
            client.close()
        raise RuntimeError(f"the workers did not settle within {timeout:.0f} s")

    def log_tail(self) -> str:
        out = []
        for name, log in zip(self.names, self.logs, strict=True):
            log.seek(0)
            out.append(f"--- {name}:\n{log.read().decode(errors='replace')[-2000:]}")
        return "\n".join(out)


@contextmanager
def celery_workers(env: dict[str, str], count: int) -> Iterator[Workers]:
    """`count` real worker processes (`celery -A retailsync worker`, one pool process each),
    parked; stopped with a warm shutdown however the block ends."""
    celery = str(Path(sys.executable).parent / "celery")
    names = [f"bench-dispatch-{n}@localhost" for n in range(count)]
    with ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile()) for _ in names]
        procs = [
            subprocess.Popen(
                [celery, "-A", "retailsync", "worker", "--concurrency=1", f"--hostname={name}",
                 f"--queues={PARKED}", "--loglevel=INFO", "--without-gossip", "--without-mingle"],
                cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True,
            )
            for name, log in zip(names, logs, strict=True)
        ]  # fmt: skip
        workers = Workers(names, procs, logs, env["CELERY_BROKER_URL"])
        try:
            deadline = time.monotonic() + 90
            while not all(b"ready." in _read(log) for log in logs):
                if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                    raise RuntimeError("the Celery workers did not start:\n" + workers.log_tail())
                time.sleep(0.2)
            yield workers
        finally:
            for proc in procs:
                process_stop(proc, timeout=60)


def _read(log: IO[bytes]) -> bytes:
    log.seek(0)
    return log.read()


@dataclass(slots=True)
class Drain:
    name: str
    events: int  # events waiting when the workers were let loose
    orders: int  # orders of the phase that got a reservation
    seconds: float
    lag_last: float  # seconds from the last order's acceptance to its reservation
    cpu: dict[str, float]

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def orders_per_s(self) -> float:
        return self.orders / self.seconds


def waiting_events(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM core_domainevent WHERE dispatched_at IS NULL"
        ).fetchone()
    return int(row[0]) if row else 0


_LAG = """
WITH mine AS (
    SELECT o.id, o.created_at AS accepted,
           (SELECT min(r.created_at) FROM inventory_reservation r WHERE r.order_id = o.id)
               AS reserved
    FROM orders_order o WHERE o.external_id LIKE %s
)
SELECT count(reserved),
       extract(epoch FROM (SELECT reserved - accepted FROM mine ORDER BY id DESC LIMIT 1))
FROM mine
"""


def drain(
    name: str,
    url: str,
    workers: Workers,
    prefix: str,
    during: Callable[[], Any] | None = None,
    timeout: float = 600,
) -> Drain:
    """Let the workers loose on the waiting events, run `during` (live ingestion), and time
    them until no event waits. `prefix`: the external ids of the phase's orders, whose
    reservations and lag are counted."""
    events = waiting_events(url)
    cpu_before = cpu_sample(workers.roles)
    began = time.perf_counter()
    workers.unpark()
    if during is not None:
        during()
    deadline = time.monotonic() + timeout
    samples = [cpu_before]
    with psycopg.connect(url, autocommit=True) as conn:
        for polls in itertools.count():
            if polls % 5 == 0:  # every ~0.1 s: the workers' connections may close meanwhile
                samples.append(cpu_sample(workers.roles))
            waiting = conn.execute(
                "SELECT EXISTS (SELECT FROM core_domainevent WHERE dispatched_at IS NULL)"
            ).fetchone()
            if waiting != (True,):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: events still waiting after {timeout:.0f} s")
            time.sleep(0.02)
        seconds = time.perf_counter() - began
        samples.append(cpu_sample(workers.roles))
        cpu = cpu_spent(cpu_before, cpu_merged(samples), 0.0, seconds)
        row = conn.execute(_LAG, [f"{prefix}-%"]).fetchone()
    workers.settle()
    workers.park()
    orders, lag_last = row if row else (0, None)
    return Drain(
        name=name,
        events=events if during is None else int(orders),
        orders=int(orders),
        seconds=seconds,
        lag_last=float(lag_last or 0),
        cpu=cpu,
    )


_CHECKS = {
    "events waiting": "SELECT count(*) FROM core_domainevent WHERE dispatched_at IS NULL",
    "order.accepted events without exactly one receipt per subscriber": """
        SELECT count(*) FROM core_domainevent e
        WHERE e.name = 'order.accepted'
          AND (SELECT count(*) FROM core_eventreceipt r WHERE r.event_id = e.id)
              <> (SELECT count(DISTINCT subscriber) FROM core_eventreceipt)""",
    "order lines without exactly one reservation": """
        SELECT count(*) FROM orders_orderline l
        WHERE (SELECT count(*) FROM inventory_reservation r WHERE r.order_line_id = l.id) <> 1""",
    "reservations short of what was asked": (
        "SELECT count(*) FROM inventory_reservation WHERE quantity <> requested"
    ),
    "positions whose reserved units differ from their reservations or ledger": """
        SELECT count(*) FROM inventory_position p
        WHERE p.reserved <> (SELECT coalesce(sum(quantity), 0) FROM inventory_reservation r
                             WHERE r.item_id = p.item_id AND r.location_id = p.location_id
                               AND r.status = 'active')
           OR p.reserved <> (SELECT coalesce(sum(reserved), 0) FROM inventory_stockmovement m
                             WHERE m.item_id = p.item_id AND m.location_id = p.location_id)
           OR p.reserved > p.on_hand""",
    "exceptions raised (backorders, unknown SKUs)": "SELECT count(*) FROM core_exceptionitem",
}


def dispatch_problems(url: str) -> list[str]:
    """Every event dispatched to each subscriber once, every order line reserved once and in
    full (stock was ample), positions equal to their reservations and ledger."""
    problems = []
    with psycopg.connect(url) as conn:
        for label, query in _CHECKS.items():
            row = conn.execute(query).fetchone()
            if row and row[0]:
                problems.append(f"dispatch: {row[0]} {label}")
    return problems
