"""Order ingestion throughput of retailsync over real HTTP, against the targets from the issue.

What it measures, on a freshly created PostgreSQL database and a gunicorn started for the run:

  a. baseline  POST /bench/echo with an order body: the same middleware, DRF view machinery and
               JSON parser as the real endpoints, but no database. It is the ceiling the stack
               allows on this machine, so the order flows are also judged relative to it.
  b. single    POST /api/v1/channels/{code}/orders, one distinct canonical order (three lines)
               per request; every answer must be 201. Reports orders/s and p50/p95 latency.
  c. batch     POST /api/v1/channels/{code}/orders/batch, 500 distinct orders per request;
               every per-order result must be "created".

Targets: single >= 150 orders/s and >= 20 % of the echo rate; batch >= 1,500 orders/s. A missed
target prints FAIL but leaves the exit status alone. A correctness failure exits 1: a non-201,
a result other than "created", or a database that does not hold exactly the orders sent, with
their lines and totals. Setup failures (migrations, server start) exit 2.

Why HTTP and gunicorn rather than the test client: the issue is about what a channel sees, and
that includes the WSGI server, connections and process model. The load generator shares the
two cores with the server, so it is kept cheap: a few threads on keep-alive sockets sending
requests encoded before the clock starts (measured at ~0.15-0.2 ms of CPU per request, against
~0.27 ms for `http.client`). Each flow reports the CPU per order spent by gunicorn, PostgreSQL
(the bench database's backends and the server's background processes), the load generator,
everything else ("other": others' work on a shared machine lowers the figures; the script warns
when the machine is busy before it starts) and left idle.

Server: gunicorn `--worker-class gthread --workers 4 --threads 2` by default. On the 2-core
machine this was written on it was the fastest for single orders in interleaved runs (~125/s
against ~100-115/s for 3, 4 or 6 sync workers, and ~1,300-1,650 batch orders/s, the same as
sync): threads overlap the waits for PostgreSQL, four processes keep the GIL from capping the
two cores, and keep-alive spares a TCP connection per request (sync workers close after every
answer). See bench/README.md; compare with `--worker-class sync --workers 4` and the like.

Run from the project root. The database named in DATABASE_URL is ignored: the run drops and
recreates `retailsync_bench` on that server, so it can never wipe a real database. Ingestion
enqueues event relay requests; they go to a Celery queue of the bench's own, which no worker
consumes and which is dropped after the run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/retailsync_bench \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/ingest.py [--quick]

Figures are saved as JSON in bench/results/ingest-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BENCH_DB = "retailsync_bench"
DEFAULT_DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/14"
CELERY_QUEUE = "retailsync-bench"  # no worker consumes it: dropped before and after each run
SETTINGS = "bench.settings"
CHANNEL_CODE = "bench-canonical"
ECHO_PATH = "/bench/echo"
SINGLE_PATH = f"/api/v1/channels/{CHANNEL_CODE}/orders"
BATCH_PATH = f"/api/v1/channels/{CHANNEL_CODE}/orders/batch"
BATCH_SIZE = 500

TARGET_SINGLE = 150.0  # orders/s
TARGET_SINGLE_RATIO = 0.20  # of the echo rate
TARGET_BATCH = 1500.0  # orders/s

CENT = Decimal("0.01")
SKUS = ("TSHIRT-BLK-M", "MUG-WHT", "CAP-NAVY")
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True, slots=True)
class Sizes:
    echo_requests: int
    single_orders: int
    batch_orders: int  # a multiple of BATCH_SIZE
    warmup: int  # echo requests, then single orders, before anything is measured


DEFAULT_SIZES = Sizes(echo_requests=10_000, single_orders=3_000, batch_orders=15_000, warmup=200)
QUICK_SIZES = Sizes(echo_requests=1_000, single_orders=250, batch_orders=1_500, warmup=40)


# --- payloads -------------------------------------------------------------------------------


def money(value: Decimal) -> str:
    return f"{value.quantize(CENT):f}"


def order_payload(external_id: str, seq: int) -> tuple[dict[str, Any], Decimal]:
    """A canonical order shaped like tests/orders/payloads.py, with three lines whose amounts vary
    with `seq` and add up exactly: total = lines - discounts + shipping + tax. Returns the
    payload and its total."""
    lines = []
    goods = discounts = tax = Decimal(0)
    for k, sku in enumerate(SKUS):
        quantity = 1 + (seq + k) % 3
        unit_price = Decimal(1000 + (seq * 37 + k * 211) % 9000) / 100  # 10.00 .. 99.99
        discount = (unit_price * quantity / 10).quantize(CENT) if k == 0 else Decimal(0)
        line_tax = ((unit_price * quantity - discount) * Decimal("0.0825")).quantize(CENT)
        goods += unit_price * quantity
        discounts += discount
        tax += line_tax
        lines.append(
            {
                "id": f"L{k + 1}",
                "sku": sku,
                "quantity": quantity,
                "unit_price": money(unit_price),
                "discount": money(discount),
                "tax": money(line_tax),
            }
        )
    shipping, shipping_tax = Decimal("6.00"), Decimal("0.48")
    total = goods - discounts + shipping + tax + shipping_tax
    payload = {
        "external_id": external_id,
        "order_number": f"#{seq}",
        "currency": "USD",
        "placed_at": f"2026-11-20T{seq // 3600 % 24:02d}:{seq // 60 % 60:02d}:{seq % 60:02d}Z",
        "prices_include_tax": False,
        "customer_email": f"customer{seq}@example.com",
        "fulfilment_location": "WH1",
        "lines": lines,
        "shipping": {"amount": money(shipping), "discount": "0.00", "tax": money(shipping_tax)},
        "payments": [
            {"gateway": "stripe", "reference": f"ch_{external_id}", "amount": money(total)}
        ],
        "total": money(total),
        "gift_message": "Happy birthday",
    }
    return payload, total


@dataclass(slots=True)
class OrderSet:
    """The orders of one flow, and the sum of their totals the database must hold afterwards."""

    payloads: list[dict[str, Any]] = field(default_factory=list)
    total: Decimal = Decimal(0)

    @classmethod
    def make(cls, prefix: str, count: int, first_seq: int) -> OrderSet:
        result = cls()
        for i in range(count):
            payload, total = order_payload(f"{prefix}-{i:07d}", first_seq + i)
            result.payloads.append(payload)
            result.total += total
        return result


def encode(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


# --- the load generator ---------------------------------------------------------------------


def http_post(port: int, path: str, body: bytes, token: str) -> bytes:
    """One complete HTTP/1.1 request, encoded once, before any clock starts."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Token {token}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Connection:
    """A minimal keep-alive HTTP/1.1 client connection: sends pre-encoded requests and reads
    answers framed by Content-Length (Django's CommonMiddleware always sets it). Reconnects
    after a `Connection: close` (gunicorn's sync workers close after every answer)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""

    def post(self, request: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=300)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        self.sock.sendall(request)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._receive()
        status_line, *header_lines = self.buffer[:end].decode("latin-1").split("\r\n")
        headers = dict(
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(":") for line in header_lines)
        )
        if "content-length" not in headers:
            raise ConnectionError(f"answer without Content-Length: {status_line!r}")
        start, length = end + 4, int(headers["content-length"])
        while len(self.buffer) < start + length:
            self._receive()
        body, self.buffer = self.buffer[start : start + length], self.buffer[start + length :]
        if headers.get("connection", "").lower() == "close" or status_line.startswith("HTTP/1.0"):
            self.close()
        return int(status_line.split(" ", 2)[1]), body

    def _receive(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(262_144)
        if not chunk:
            raise ConnectionError("server closed the connection mid-answer")
        self.buffer += chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None


@dataclass(frozen=True, slots=True)
class CpuSample:
    machine: float  # CPU seconds the whole machine has been busy (all CPUs, all processes)
    processes: dict[int, tuple[str, float]]  # pid: (role, CPU seconds), for the roles we track


def cpu_sample(server_pid: int | None) -> CpuSample:
    """CPU used so far by the machine, by the gunicorn master and workers ("server") and by
    PostgreSQL ("postgres": the bench database's backends and the server's background work).
    Empty where there is no /proc."""
    try:
        with open("/proc/stat") as stat:
            jiffies = [int(x) for x in stat.readline().split()[1:]]
    except OSError:
        return CpuSample(0.0, {})
    machine = (sum(jiffies[:8]) - jiffies[3] - jiffies[4]) / TICK  # all but idle and iowait
    processes: dict[int, tuple[str, float]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat_line = f.read()
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmdline = f.read(200)
        except OSError:
            continue  # gone meanwhile
        pid, fields = int(entry.name), stat_line[stat_line.rfind(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
        if server_pid is not None and server_pid in (pid, int(fields[1])):
            processes[pid] = ("server", seconds)
        elif cmdline.startswith(b"postgres:") and (
            f" {BENCH_DB} ".encode() in cmdline or b"(" not in cmdline  # WAL writer and co.
        ):
            processes[pid] = ("postgres", seconds)
    return CpuSample(machine, processes)


def cpu_spent(before: CpuSample, after: CpuSample, client: float, wall: float) -> dict[str, float]:
    """CPU seconds between two samples by role. A process that started in between counts from
    zero; one that ended in between (a database connection past CONN_MAX_AGE) is lost to
    "other"."""
    spent = {"server": 0.0, "postgres": 0.0, "client": client}
    for pid, (role, seconds) in after.processes.items():
        spent[role] += seconds - before.processes.get(pid, (role, 0.0))[1]
    machine = after.machine - before.machine
    spent["other"] = max(0.0, machine - sum(spent.values()))
    spent["idle"] = max(0.0, wall * (os.cpu_count() or 1) - machine)
    return spent


@dataclass(slots=True)
class PhaseResult:
    name: str
    requests: int
    seconds: float
    statuses: dict[int, int]
    latencies: list[float]  # seconds, one per answered request
    bodies: list[bytes]  # answers in request order, when asked for
    errors: list[str]  # requests that got no HTTP answer
    cpu: dict[str, float]  # CPU seconds in the phase: server, postgres, client, other, idle


def run_phase(
    name: str,
    requests: Sequence[bytes],
    port: int,
    server_pid: int | None,
    concurrency: int,
    keep_bodies: bool = False,
) -> PhaseResult:
    """Send every request once over `concurrency` connections, each as soon as the previous
    answer on its connection is in (a closed loop: the server sets the pace)."""
    take = iter(range(len(requests))).__next__
    take_lock = threading.Lock()
    start = threading.Event()
    answers: list[bytes] = [b""] * len(requests) if keep_bodies else []
    per_thread: list[tuple[Counter[int], list[float], list[str]]] = []

    def client() -> None:
        statuses: Counter[int] = Counter()
        latencies: list[float] = []
        errors: list[str] = []
        per_thread.append((statuses, latencies, errors))
        conn = Connection(port)
        start.wait()
        while True:
            with take_lock:
                try:
                    i = take()
                except StopIteration:
                    break
            began = time.perf_counter()
            try:
                status, body = conn.post(requests[i])
            except (OSError, ValueError) as exc:
                errors.append(f"request {i}: {exc!r}")
                conn.close()
                continue
            latencies.append(time.perf_counter() - began)
            statuses[status] += 1
            if keep_bodies:
                answers[i] = body
        conn.close()

    threads = [
        threading.Thread(target=client, daemon=True, name=f"client-{n}")
        for n in range(min(concurrency, len(requests)))
    ]
    for thread in threads:
        thread.start()
    cpu_before = cpu_sample(server_pid)
    client_before = time.process_time()  # after the sample: scanning /proc is not load
    began = time.perf_counter()
    start.set()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    client_after = time.process_time()
    cpu_after = cpu_sample(server_pid)
    cpu = cpu_spent(cpu_before, cpu_after, client_after - client_before, seconds)
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    errors: list[str] = []
    for s, lat, err in per_thread:
        statuses.update(s)
        latencies += lat
        errors += err
    return PhaseResult(
        name, len(requests), seconds, dict(statuses), latencies, answers, errors, cpu
    )


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def background_busy(seconds: float = 1.0) -> float:
    """Share of the machine's CPUs busy while this script only sleeps: others' work."""
    before = cpu_sample(None).machine
    time.sleep(seconds)
    return (cpu_sample(None).machine - before) / seconds / (os.cpu_count() or 1)


# --- database, migrations, channel ----------------------------------------------------------


def bench_database_url() -> str:
    """DATABASE_URL's server and credentials (or the local default), with the bench database."""
    given = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    if not given.scheme.startswith("postgres"):
        sys.exit(f"DATABASE_URL must point at PostgreSQL, not {given.scheme!r}")
    named = given.path.strip("/")
    if named not in ("", BENCH_DB):
        print(f"note: DATABASE_URL names {named!r}; the benchmark uses {BENCH_DB!r} on that server")
    return urlunsplit(given._replace(path=f"/{BENCH_DB}"))


def database_recreate(url: str) -> None:
    admin_url = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    name = sql.Identifier(BENCH_DB)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def celery_queue_drop(broker_url: str) -> int:
    """Delete the bench's Celery queue (relay requests enqueued by ingestion, which no worker
    runs here) and its "waiting" flags (retailsync.coalesce); returns how many tasks it held.
    Without the flags a run starts as a live system does after the worker has taken the last
    request: the first commit enqueues one. Left over from the previous run (they live 60 s),
    they would spare this run even that. Only Redis brokers are handled."""
    if not broker_url.startswith(("redis://", "rediss://")):
        return 0
    import redis

    client = redis.Redis.from_url(broker_url)
    try:
        held = int(client.llen(CELERY_QUEUE))
        client.delete(
            CELERY_QUEUE,
            f"_kombu.binding.{CELERY_QUEUE}",
            f"_kombu.binding_permanent.{CELERY_QUEUE}",
            # retailsync.coalesce's flag names: retailsync:waiting:<queue>:<task name>
            *client.scan_iter(match=f"retailsync:waiting:{CELERY_QUEUE}:*"),
        )
    finally:
        client.close()
    return held


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def channel_token(env: dict[str, str]) -> str:
    out = manage(env, "create_channel", CHANNEL_CODE, "--source", "canonical")
    return str(json.loads(out.strip().splitlines()[-1])["token"])


@dataclass(frozen=True, slots=True)
class Stored:
    orders: int
    lines: int
    total: Decimal
    messages: dict[str, int]  # the bench channel's inbound messages by status
    accepted_events: int  # order.accepted events about the bench channel's orders


def stored_orders(url: str) -> Stored:
    """What the bench channel's orders add up to in the database, with the messages and events
    that each delivery must have left beside them."""
    # Each query calls the rows it counts `o`, joined to the bench channel.
    channel = " JOIN core_channel c ON c.id = o.channel_id WHERE c.code = %s"
    with psycopg.connect(url) as conn:
        [(orders, total)], [(lines,)], [(events,)], messages = (
            conn.execute(query, [CHANNEL_CODE]).fetchall()
            for query in (
                "SELECT count(*), coalesce(sum(o.total), 0) FROM orders_order o" + channel,
                "SELECT count(*) FROM orders_orderline l JOIN orders_order o"
                " ON o.id = l.order_id" + channel,
                "SELECT count(*) FROM core_domainevent e JOIN orders_order o"
                " ON e.aggregate_type = 'order' AND e.aggregate_id = o.id::text"
                + channel
                + " AND e.name = 'order.accepted'",
                "SELECT o.status, count(*) FROM core_inboundmessage o"
                + channel
                + " GROUP BY o.status",
            )
        )
    return Stored(
        orders=orders,
        lines=lines,
        total=Decimal(total),
        messages=dict(messages),
        accepted_events=events,
    )


# --- the server -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerConfig:
    worker_class: str
    workers: int
    threads: int

    def args(self, port: int) -> list[str]:
        return [
            str(Path(sys.executable).parent / "gunicorn"),
            f"--bind=127.0.0.1:{port}",
            f"--worker-class={self.worker_class}",
            f"--workers={self.workers}",
            f"--threads={self.threads}",
            "--timeout=120",
            "--log-level=warning",
            f"--env=DJANGO_SETTINGS_MODULE={SETTINGS}",
            "retailsync.wsgi:application",
        ]

    def describe(self) -> str:
        threads = f" x {self.threads} threads" if self.worker_class == "gthread" else ""
        return f"gunicorn {self.worker_class}, {self.workers} workers{threads}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(config: ServerConfig, env: dict[str, str]) -> Iterator[tuple[int, int]]:
    """(port, pid) of a gunicorn serving bench.settings; stopped however the block ends."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        # Its own session: Ctrl-C reaches only this script, which then stops the server.
        proc = subprocess.Popen(
            config.args(port), cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )
        try:
            wait_until_up(proc, port)
            yield port, proc.pid
        except BaseException:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-3000:]
            if tail.strip():
                print(f"--- gunicorn's log ends:\n{tail}", file=sys.stderr)
            raise
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # graceful: workers finish their request
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def wait_until_up(proc: subprocess.Popen[bytes], port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {proc.returncode}")
        try:
            status, _ = Connection(port).post(http_post(port, ECHO_PATH, b"{}", "-"))
            if status == 201:
                return
        except OSError:
            pass  # not listening yet: try again shortly
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer on port {port} within {timeout:.0f} s")


# --- checks and report ----------------------------------------------------------------------


def status_problems(phase: PhaseResult, expected: int) -> list[str]:
    problems = []
    if phase.errors:
        problems.append(f"{phase.name}: {len(phase.errors)} without an answer: {phase.errors[0]}")
    wrong = {s: n for s, n in phase.statuses.items() if s != expected}
    if wrong:
        problems.append(f"{phase.name}: answers other than {expected}: {wrong}")
    return problems


def batch_problems(phase: PhaseResult, sent: int) -> list[str]:
    problems: list[str] = []
    created = 0
    for n, body in enumerate(phase.bodies):
        if not body:
            continue  # no answer: counted by status_problems
        try:
            results = json.loads(body)["results"]
        except (ValueError, KeyError, TypeError):
            problems.append(f"batch {n}: unexpected answer {body[:200]!r}")
            continue
        others = Counter(r["status"] for r in results if r["status"] != "created")
        created += len(results) - sum(others.values())
        if others:
            problems.append(f"batch {n}: {dict(others)} besides 'created'")
    if created != sent:
        problems.append(f"{created} of {sent} batch orders were 'created'")
    return problems


@dataclass(slots=True)
class Row:
    flow: str
    orders: int
    seconds: float
    rate: float  # orders (requests, for the echo) per second
    target: str
    ratio: float  # rate / echo rate
    verdict: str
    cpu_ms_per_order: dict[str, float]


def make_row(
    phase: PhaseResult, orders: int, echo_rate: float, target: str, ok: bool | None
) -> Row:
    rate = orders / phase.seconds
    return Row(
        flow=phase.name,
        orders=orders,
        seconds=round(phase.seconds, 2),
        rate=round(rate, 1),
        target=target,
        ratio=round(rate / echo_rate, 3),
        verdict="-" if ok is None else "PASS" if ok else "FAIL",
        cpu_ms_per_order={k: round(v / orders * 1000, 3) for k, v in phase.cpu.items()},
    )


def print_report(rows: Sequence[Row], single: PhaseResult, concurrency: int) -> dict[str, float]:
    head = f"{'flow':<16}{'orders':>7}{'seconds':>9}{'orders/s':>10}  {'target':<24}"
    head += f"{'ratio':>6}  result"
    print(f"\n{head}\n{'-' * len(head)}")
    for r in rows:
        print(
            f"{r.flow:<16}{r.orders:>7}{r.seconds:>9.2f}{r.rate:>10.1f}  {r.target:<24}"
            f"{r.ratio:>6.2f}  {r.verdict}"
        )
    latency = {f"p{q}_ms": round(percentile(single.latencies, q) * 1000, 1) for q in (50, 95, 99)}
    print(
        f"\nsingle-order latency ({concurrency} connections): p50 {latency['p50_ms']} ms, "
        f"p95 {latency['p95_ms']} ms, p99 {latency['p99_ms']} ms"
    )
    print("CPU ms per order (echo: per request):  server  postgres  client   other    idle")
    for r in rows:
        c = r.cpu_ms_per_order
        print(
            f"  {r.flow:<36}{c['server']:>8.2f}{c['postgres']:>10.2f}"
            f"{c['client']:>8.2f}{c['other']:>8.2f}{c['idle']:>8.2f}"
        )
    return latency


# --- the run --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Order ingestion throughput over HTTP (see the top).")
    p.add_argument("--quick", action="store_true", help="a small smoke-test run (~15 s)")
    p.add_argument("--orders", type=int, help="orders for the single-order flow [3000]")
    p.add_argument("--batch-orders", type=int, help="orders for the batch flow [15000]")
    p.add_argument("--echo-requests", type=int, help="requests for the baseline [10000]")
    p.add_argument("--concurrency", type=int, default=8, help="client connections [8]")
    p.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    p.add_argument("--workers", type=int, default=4, help="gunicorn workers [4]")
    p.add_argument("--threads", type=int, default=2, help="threads per gthread worker [2]")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    base = QUICK_SIZES if args.quick else DEFAULT_SIZES
    sizes = Sizes(
        echo_requests=args.echo_requests or base.echo_requests,
        single_orders=args.orders or base.single_orders,
        batch_orders=math.ceil((args.batch_orders or base.batch_orders) / BATCH_SIZE) * BATCH_SIZE,
        warmup=base.warmup,
    )
    config = ServerConfig(args.worker_class, args.workers, args.threads)
    concurrency = args.concurrency
    url = bench_database_url()
    broker_url = os.environ.get("CELERY_BROKER_URL") or DEFAULT_BROKER_URL
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_QUEUE": CELERY_QUEUE,
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DEBUG": "0",
    }
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    started = time.perf_counter()

    busy_before = background_busy()
    if busy_before > 0.15:
        print(f"warning: {busy_before:.0%} of the CPUs were busy before the run started; other")
        print("work on this machine will lower the figures (see 'other' CPU below)")
    print(f"recreating {url}, migrating ...", flush=True)
    database_recreate(url)
    celery_queue_drop(broker_url)
    manage(env, "migrate", "--noinput", "-v0")
    token = channel_token(env)

    warm = OrderSet.make("WARM", sizes.warmup, 0)
    single = OrderSet.make("SINGLE", sizes.single_orders, 10_000_000)
    batch = OrderSet.make("BATCH", sizes.batch_orders, 20_000_000)
    print(
        f"{config.describe()}, {concurrency} client connections; echo {sizes.echo_requests}, "
        f"single {sizes.single_orders}, batch {sizes.batch_orders} orders "
        f"({sizes.batch_orders // BATCH_SIZE} x {BATCH_SIZE}); warm-up {sizes.warmup} + "
        f"{sizes.warmup}",
        flush=True,
    )

    with gunicorn(config, env) as (port, pid):
        # Every request is encoded before its clock starts.
        echo_request = http_post(port, ECHO_PATH, encode(single.payloads[0]), token)
        warm_requests = [http_post(port, SINGLE_PATH, encode(p), token) for p in warm.payloads]
        single_requests = [http_post(port, SINGLE_PATH, encode(p), token) for p in single.payloads]
        batch_bodies = [
            encode({"orders": batch.payloads[i : i + BATCH_SIZE]})
            for i in range(0, sizes.batch_orders, BATCH_SIZE)
        ]
        batch_requests = [http_post(port, BATCH_PATH, body, token) for body in batch_bodies]

        def phase(name: str, requests: Sequence[bytes], keep_bodies: bool = False) -> PhaseResult:
            return run_phase(name, requests, port, pid, concurrency, keep_bodies)

        # Warm every worker (imports, URL resolver, database connections) before measuring.
        warm_echo = phase("warm-up echo", [echo_request] * sizes.warmup)
        warm_single = phase("warm-up single", warm_requests)
        echo = phase("echo (baseline)", [echo_request] * sizes.echo_requests)
        print(f"  echo    {echo.requests / echo.seconds:8.1f} requests/s", flush=True)
        one = phase("single-order", single_requests)
        print(f"  single  {one.requests / one.seconds:8.1f} orders/s", flush=True)
        many = phase("batch x500", batch_requests, keep_bodies=True)
        print(f"  batch   {sizes.batch_orders / many.seconds:8.1f} orders/s", flush=True)

    problems = [
        *status_problems(warm_echo, 201),
        *status_problems(warm_single, 201),
        *status_problems(echo, 201),
        *status_problems(one, 201),
        *status_problems(many, 200),
        *batch_problems(many, sizes.batch_orders),
    ]
    sent = sizes.warmup + sizes.single_orders + sizes.batch_orders
    sent_lines = len(SKUS) * sent
    sent_total = warm.total + single.total + batch.total
    stored = stored_orders(url)
    tasks_enqueued = celery_queue_drop(broker_url)
    if (stored.orders, stored.lines, stored.total) != (sent, sent_lines, sent_total):
        problems.append(
            f"database holds {stored.orders} orders, {stored.lines} lines totalling "
            f"{stored.total}; sent {sent}, {sent_lines}, {sent_total}"
        )
    # One message per request, each processed; one order.accepted event per order.
    sent_messages = {"processed": sizes.warmup + sizes.single_orders + len(batch_requests)}
    if (stored.messages, stored.accepted_events) != (sent_messages, sent):
        problems.append(
            f"database holds messages {stored.messages} and {stored.accepted_events} "
            f"order.accepted events; expected {sent_messages} and {sent}"
        )

    echo_rate = echo.requests / echo.seconds
    single_rate = one.requests / one.seconds
    batch_rate = sizes.batch_orders / many.seconds
    single_ok = single_rate >= TARGET_SINGLE and single_rate >= TARGET_SINGLE_RATIO * echo_rate
    batch_ok = batch_rate >= TARGET_BATCH
    single_target = f">= {TARGET_SINGLE:.0f}/s & >= {TARGET_SINGLE_RATIO:.0%} echo"
    rows = [
        make_row(echo, echo.requests, echo_rate, "(requests/s)", None),
        make_row(one, one.requests, echo_rate, single_target, single_ok),
        make_row(many, sizes.batch_orders, echo_rate, f">= {TARGET_BATCH:.0f}/s", batch_ok),
    ]
    latency = print_report(rows, one, concurrency)
    verdict = "OK" if not problems else "MISMATCH"
    print(
        f"database: {stored.orders} orders, {stored.lines} lines, total {stored.total:.2f}, "
        f"{stored.accepted_events} order.accepted events, messages {stored.messages} "
        f"(sent {sent} orders incl. {sizes.warmup} warm-up): {verdict}"
    )
    print(f"celery: {tasks_enqueued} relay requests were enqueued (no worker ran; dropped)")
    for row in rows:
        # A closed loop keeps the two CPUs busy; idle time in a phase means requests stalled
        # (seen now and then in the echo phase: ~0.45 ms idle per request, half its rate), and
        # then the phase's rate, and any ratio to it, does not measure the work.
        spent = row.cpu_ms_per_order
        if spent["idle"] > 0.2 * (spent["server"] + spent["postgres"] + spent["client"]):
            print(
                f"warning: the {row.flow} phase left the CPUs idle {spent['idle']:.2f} ms per "
                "order (stalls, not load); its rate and the ratios are not comparable: run again"
            )
    for problem in problems:
        print(f"CORRECTNESS FAILURE: {problem}")

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"ingest-{run_id}.json"
    report = {
        "run": run_id,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "busy_before_run": round(busy_before, 3),
        },
        "server": {**asdict(config), "command": config.args(0)[1:]},
        "concurrency": concurrency,
        "sizes": asdict(sizes),
        "rows": [asdict(r) for r in rows],
        "single_latency": latency,
        "targets": {
            "single_orders_per_s": TARGET_SINGLE,
            "single_ratio_to_echo": TARGET_SINGLE_RATIO,
            "batch_orders_per_s": TARGET_BATCH,
        },
        "database": {
            "orders": stored.orders,
            "lines": stored.lines,
            "total": str(stored.total),
            "sent_orders": sent,
            "sent_total": str(sent_total),
            "messages": stored.messages,
            "accepted_events": stored.accepted_events,
        },
        "celery_tasks_enqueued": tasks_enqueued,
        "correctness_problems": problems,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    return report_save(out, report, started, problems)


def report_save(out: Path, report: dict[str, Any], started: float, problems: list[str]) -> int:
    """Write a run's results as JSON and say where; the exit status: 1 if a check failed."""
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"saved {out.relative_to(ROOT)} ({time.perf_counter() - started:.0f} s in all)")
    return 1 if problems else 0


def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through `with gunicorn(...)`, which stops it


def run(main: Callable[[], int]) -> None:
    """A bench script's entry point: SIGTERM and Ctrl-C stop gunicorn on the way out; a failed
    setup (migrations, the server, the test data) exits 2."""
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in background
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; gunicorn stopped", file=sys.stderr)
        sys.exit(130)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    run(main)
