"""What the benchmarks share: the production environment, gunicorn as shipped, the load
generator, CPU accounting by role, the bench database and Celery queue, and the report.

Everything runs what ships: `retailsync.settings_production` (a SECRET_KEY made up for the run,
ALLOWED_HOSTS from the environment, logging as configured) and gunicorn with the repository's
`gunicorn.conf.py` unchanged (the GUNICORN_* variables it reads are removed from the
environment, only its bind address is given). Production redirects plain http to https behind
the TLS proxy (SECURE_SSL_REDIRECT, SECURE_PROXY_SSL_HEADER): the load generator sends
`X-Forwarded-Proto: https` as that proxy would. The echo baseline is not in production's URLs:
it is served by a second gunicorn, started with the same config file, whose application is
`bench/echo_wsgi.py` (production settings, the bench's URLconf).
"""

from __future__ import annotations

import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
DEFAULT_BENCH_DB = "retailsync_bench"
DEFAULT_DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DEFAULT_BENCH_DB}"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/14"
CELERY_QUEUE = "retailsync-bench"  # the bench's own queue: dropped before and after each run
SETTINGS = "retailsync.settings_production"
ECHO_APP = "bench.echo_wsgi:application"
ECHO_PATH = "/bench/echo"
ALLOWED_HOSTS = "127.0.0.1,localhost"
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# The database this run works in (set by bench_database_url): PostgreSQL's processes serving it
# count as "postgres" in the CPU accounting.
bench_db = DEFAULT_BENCH_DB


def encode(body: Any) -> bytes:
    import json

    return json.dumps(body, separators=(",", ":")).encode()


# --- the environment and the servers --------------------------------------------------------


def production_env(url: str, broker_url: str) -> dict[str, str]:
    """The environment of every process of the run (gunicorn, Celery workers, manage.py):
    production settings on the bench database and queue; gunicorn's own figures as shipped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    env.pop("DEBUG", None)
    env.update(
        DATABASE_URL=url,
        CELERY_BROKER_URL=broker_url,
        CELERY_QUEUE=CELERY_QUEUE,
        DJANGO_SETTINGS_MODULE=SETTINGS,
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=os.environ.get("BENCH_ALLOWED_HOSTS", ALLOWED_HOSTS),
    )
    return env


def shipped_config() -> dict[str, Any]:
    """gunicorn.conf.py's settings as gunicorn reads them (without GUNICORN_* overrides)."""
    import runpy

    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("GUNICORN_")}
    try:
        conf = runpy.run_path(str(GUNICORN_CONF))
    finally:
        os.environ.update(saved)
    return {k: conf[k] for k in ("worker_class", "workers", "threads", "timeout", "keepalive")}


def describe_config() -> str:
    c = shipped_config()
    threads = f" x {c['threads']} threads" if c["worker_class"] == "gthread" else ""
    return f"gunicorn.conf.py as shipped: {c['worker_class']}, {c['workers']} workers{threads}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(env: dict[str, str], app: str | None = None) -> Iterator[tuple[int, int]]:
    """(port, pid) of a gunicorn started with the shipped config file: production's
    application, or `app` (the echo); stopped however the block ends."""
    port = free_port()
    args = [str(Path(sys.executable).parent / "gunicorn"), "-c", str(GUNICORN_CONF)]
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    with tempfile.TemporaryFile() as log:
        # Its own session: Ctrl-C reaches only this script, which then stops the server.
        proc = subprocess.Popen(
            [*args, *([app] if app else [])],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        try:
            wait_until_up(proc, port, ECHO_PATH if app == ECHO_APP else "/api/schema/")
            yield port, proc.pid
        except BaseException:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-3000:]
            if tail.strip():
                print(f"--- gunicorn's log ends:\n{tail}", file=sys.stderr)
            raise
        finally:
            process_stop(proc)


def process_stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM (graceful: the request or task in hand ends), then SIGKILL after `timeout`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until_up(proc: subprocess.Popen[bytes], port: int, path: str, timeout: float = 60) -> None:
    """Until `path` answers a POST; a redirect (the https header not honoured) or a server
    error is a failed start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {proc.returncode}")
        try:
            status, body = Connection(port).post(http_post(port, path, b"{}", "-"))
            if status < 300 or 400 <= status < 500:
                return
            raise RuntimeError(f"{path} answered {status}: {body[:300]!r}")
        except OSError:
            pass  # not listening yet: try again shortly
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer on port {port} within {timeout:.0f} s")


# --- the load generator ---------------------------------------------------------------------


def http_post(port: int, path: str, body: bytes, token: str) -> bytes:
    """One complete HTTP/1.1 request, encoded once, before any clock starts; as the TLS proxy in
    front of production forwards it."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"X-Forwarded-Proto: https\r\nAuthorization: Token {token}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
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


ROLES = ("server", "workers", "postgres")


def cpu_sample(roots: Mapping[int, str] | int | None = None) -> CpuSample:
    """CPU used so far by the machine and by role: each root pid given (gunicorn's master:
    "server", a Celery worker: "workers") with its children, and PostgreSQL ("postgres": the
    bench database's backends and the server's background work). Empty where there is no
    /proc."""
    if not isinstance(roots, Mapping):
        roots = {} if roots is None else {roots: "server"}
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
        role = roots.get(pid) or roots.get(int(fields[1]))
        if role:
            processes[pid] = (role, seconds)
        elif cmdline.startswith(b"postgres:") and (
            f" {bench_db} ".encode() in cmdline or b"(" not in cmdline  # WAL writer and co.
        ):
            processes[pid] = ("postgres", seconds)
    return CpuSample(machine, processes)


def cpu_merged(samples: Sequence[CpuSample]) -> CpuSample:
    """The last sample, with the last CPU seen of processes that ended since an earlier one
    (a database connection closed past CONN_MAX_AGE): sampled often, little is lost."""
    processes: dict[int, tuple[str, float]] = {}
    for sample in samples:
        processes.update(sample.processes)
    return CpuSample(samples[-1].machine, processes)


def cpu_spent(before: CpuSample, after: CpuSample, client: float, wall: float) -> dict[str, float]:
    """CPU seconds between two samples by role. A process that started in between counts from
    zero; one that ended in between (a database connection past CONN_MAX_AGE) is lost to
    "other"."""
    spent = {role: 0.0 for role in ROLES} | {"client": client}
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
    cpu: dict[str, float]  # CPU seconds in the phase, by role (cpu_spent)


def run_phase(
    name: str,
    requests: Sequence[bytes],
    port: int,
    server_pid: int | None,
    concurrency: int,
    keep_bodies: bool = False,
    roles: Mapping[int, str] | None = None,
) -> PhaseResult:
    """Send every request once over `concurrency` connections, each as soon as the previous
    answer on its connection is in (a closed loop: the server sets the pace). `roles`: other
    processes whose CPU to count (Celery workers)."""
    take = iter(range(len(requests))).__next__
    take_lock = threading.Lock()
    start = threading.Event()
    answers: list[bytes] = [b""] * len(requests) if keep_bodies else []
    per_thread: list[tuple[Counter[int], list[float], list[str]]] = []
    tracked = {**(roles or {}), **({server_pid: "server"} if server_pid else {})}

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
    cpu_before = cpu_sample(tracked)
    client_before = time.process_time()  # after the sample: scanning /proc is not load
    began = time.perf_counter()
    start.set()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    client_after = time.process_time()
    cpu_after = cpu_sample(tracked)
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
    before = cpu_sample().machine
    time.sleep(seconds)
    return (cpu_sample().machine - before) / seconds / (os.cpu_count() or 1)


# --- database, queue, manage.py -------------------------------------------------------------


def bench_database_url() -> str:
    """DATABASE_URL's server and credentials (or the local default) with a database the run may
    drop: the one named if its name ends in `_bench`, else `retailsync_bench`."""
    global bench_db
    given = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    if not given.scheme.startswith("postgres"):
        sys.exit(f"DATABASE_URL must point at PostgreSQL, not {given.scheme!r}")
    named = given.path.strip("/")
    bench_db = named if named.endswith("_bench") else DEFAULT_BENCH_DB
    if named not in ("", bench_db):
        print(f"note: DATABASE_URL names {named!r}; the benchmark uses {bench_db!r} on that server")
    return urlunsplit(given._replace(path=f"/{bench_db}"))


def database_recreate(url: str) -> None:
    admin_url = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    name = sql.Identifier(urlsplit(url).path.strip("/"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def celery_queue_drop(broker_url: str, *, bindings: bool = True) -> int:
    """Delete the bench's Celery queue and its "waiting" flags (retailsync.core.coalesce); returns
    how many tasks it held. Without the flags the next commit asks for the relay, as on a live
    system after the worker took the last request. `bindings=False` keeps the queue's routing,
    for workers that go on consuming it. Only Redis brokers are handled."""
    if not broker_url.startswith(("redis://", "rediss://")):
        return 0
    import redis

    client = redis.Redis.from_url(broker_url)
    try:
        held = int(client.llen(CELERY_QUEUE))
        routing = [f"_kombu.binding.{CELERY_QUEUE}", f"_kombu.binding_permanent.{CELERY_QUEUE}"]
        client.delete(
            CELERY_QUEUE,
            *(routing if bindings else []),
            # retailsync.core.coalesce's flag names: retailsync:waiting:<queue>:<task name>
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


# --- checks and report ----------------------------------------------------------------------


def status_problems(phase: PhaseResult, expected: int) -> list[str]:
    problems = []
    if phase.errors:
        problems.append(f"{phase.name}: {len(phase.errors)} without an answer: {phase.errors[0]}")
    wrong = {s: n for s, n in phase.statuses.items() if s != expected}
    if wrong:
        problems.append(f"{phase.name}: answers other than {expected}: {wrong}")
    return problems


def report_save(out: Path, report: dict[str, Any], started: float, problems: list[str]) -> int:
    """Write a run's results as JSON and say where; the exit status: 1 if a check failed."""
    import json

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
