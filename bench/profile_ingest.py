"""Where an ingested order's time goes: SQL queries per order and a profile of the hot path.

Runs the real endpoints in-process through Django's test client (all the middleware and DRF,
no HTTP server; production settings, requests marked as forwarded over https) on the bench
database (as bench/ingest.py names it; created if missing, migrated to the current tree), with
a channel of its own. For the single-order and the batch endpoint it prints
the queries per request grouped by statement; wall, CPU and per-statement time per order
without a profiler; then cProfile's top functions by own and by cumulative CPU time.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/retailsync_bench \
    .venv/bin/python bench/profile_ingest.py [--orders 300] [--batch 500] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The project's own modules, for a profile view without Django's and psycopg's frames.
PROJECT_CODE = rf"^{re.escape(str(ROOT))}/(?!\.venv/)"

from bench.harness import (  # noqa: E402  (needs the project root on sys.path)
    DEFAULT_BROKER_URL,
    bench_database_url,
    celery_queue_drop,
    encode,
    production_env,
)
from bench.ingest import BATCH_SIZE, OrderSet  # noqa: E402


def setup_django() -> None:
    """Django on the bench database, created if missing and migrated to the current tree."""
    url = bench_database_url()
    name = urlsplit(url).path.strip("/")
    admin_url = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    # A real broker, as in production: asking for the event relay is part of the cost.
    broker_url = os.environ.get("CELERY_BROKER_URL") or DEFAULT_BROKER_URL
    os.environ.update(production_env(url, broker_url))
    os.environ["ALLOWED_HOSTS"] = "testserver"  # the test client's host
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def statement_kind(sql: str) -> str:
    """A query reduced to its verb and table: `INSERT orders_orderline`, `SELECT core_apitoken`."""
    sql = sql.lstrip()
    verb = sql.split(None, 1)[0].upper()
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT", "BEGIN"):
        return verb
    if verb == "WITH":  # data-modifying CTEs: name every table written
        written = re.findall(r'(INSERT INTO|UPDATE)\s+"?([\w.]+)"?', sql, re.IGNORECASE)
        if written:
            return "WITH " + ", ".join(f"{v.split()[0].upper()} {t}" for v, t in written)
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?([\w.]+)"?', sql, re.IGNORECASE)
    return f"{verb} {table.group(1) if table else '?'}"


def timed(label: str, orders: int, fn: Callable[[], Any]) -> None:
    """Wall and CPU time per order, and the wall time of each kind of statement (the round trip
    to PostgreSQL included; COMMIT is not a statement here and falls under "the rest")."""
    from django.db import connection

    spent: dict[str, float] = defaultdict(float)

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent[statement_kind(sql)] += time.perf_counter() - began

    with connection.execute_wrapper(wrapper):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    in_sql = sum(spent.values())

    def ms(seconds: float) -> str:
        return f"{seconds / orders * 1000:7.3f} ms"

    print(f"\n== timings, {label}, per order (no profiler)")
    print(f"  {ms(wall)}  wall")
    print(f"  {ms(cpu)}  CPU of this process (Python, libpq)")
    print(f"  {ms(in_sql)}  in statements (wall), of which:")
    for kind, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"      {ms(seconds)}  {kind}")
    print(f"  {ms(wall - in_sql)}  the rest: Python outside statements, COMMIT")


def profile(label: str, calls: int, fn: Callable[[], Any], top: int) -> None:
    """cProfile on CPU time, so waiting for PostgreSQL is not counted: the server is CPU-bound
    under load, and CPU is what decides throughput."""
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    fn()
    profiler.disable()
    stats = pstats.Stats(profiler)
    each = stats.total_tt / calls * 1000  # type: ignore[attr-defined]
    print(f"\n== cProfile {label}: {each:.2f} ms CPU per order (inflated by the profiler)")
    sections = (
        ("own CPU time, everything", "tottime", ()),
        ("cumulative CPU time, project code", "cumulative", (PROJECT_CODE,)),
    )
    for title, sort, restrictions in sections:
        out = io.StringIO()
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats(sort).print_stats(*restrictions, top)
        text = out.getvalue().replace(str(ROOT) + "/", "")
        print(f"-- by {title}")
        print(text[text.find("   ncalls") :].rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Queries per order and a cProfile of ingestion.")
    p.add_argument("--orders", type=int, default=300, help="single orders to profile [300]")
    p.add_argument(
        "--batch", type=int, default=BATCH_SIZE, help=f"orders in the batch [{BATCH_SIZE}]"
    )
    p.add_argument("--top", type=int, default=25, help="functions to list [25]")
    args = p.parse_args(argv)
    setup_django()

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from retailsync.core.services import channel_create

    code = f"prof-{uuid.uuid4().hex[:8]}"
    _, token = channel_create(code=code, source="canonical")
    client = Client(headers={"Authorization": f"Token {token}"})
    single_path = f"/api/v1/channels/{code}/orders"
    batch_path = f"{single_path}/batch"
    prefix = code.upper()

    def post(path: str, bodies: Sequence[bytes], expect: int) -> None:
        for body in bodies:
            response = client.post(path, body, content_type="application/json", secure=True)
            assert response.status_code == expect, (response.status_code, response.content[:300])

    # Warm up imports and the database connection, then count one order's queries.
    post(single_path, [encode(OrderSet.make(f"{prefix}-W", 1, 1).payloads[0])], 201)
    one = OrderSet.make(f"{prefix}-Q", 1, 2).payloads[0]
    with CaptureQueriesContext(connection) as single_queries:
        post(single_path, [encode(one)], 201)
    print(f"== single-order request: {len(single_queries)} queries")
    for kind, n in Counter(statement_kind(q["sql"]) for q in single_queries).most_common():
        print(f"  {n:4d}  {kind}")

    batch = OrderSet.make(f"{prefix}-B", args.batch, 3)
    with CaptureQueriesContext(connection) as batch_queries:
        post(batch_path, [encode({"orders": batch.payloads})], 200)
    print(
        f"\n== batch request of {args.batch}: {len(batch_queries)} queries"
        f" ({len(batch_queries) / args.batch:.2f} per order)"
    )
    for kind, n in Counter(statement_kind(q["sql"]) for q in batch_queries).most_common():
        print(f"  {n:4d}  {kind}")
    slowest = sorted(batch_queries, key=lambda q: -float(q["time"]))[:5]
    print("  slowest:", ", ".join(f"{statement_kind(q['sql'])} {q['time']}s" for q in slowest))

    timed_singles = [encode(p) for p in OrderSet.make(f"{prefix}-T", args.orders, 9000).payloads]
    timed(
        f"single-order x{args.orders}", args.orders, lambda: post(single_path, timed_singles, 201)
    )
    timed_batch = [encode({"orders": OrderSet.make(f"{prefix}-U", args.batch, 7000).payloads})]
    timed(f"one batch of {args.batch}", args.batch, lambda: post(batch_path, timed_batch, 200))

    singles = [encode(p) for p in OrderSet.make(f"{prefix}-S", args.orders, 1000).payloads]
    profile(
        f"single-order x{args.orders}",
        args.orders,
        lambda: post(single_path, singles, 201),
        args.top,
    )
    big = [encode({"orders": OrderSet.make(f"{prefix}-P", args.batch, 5000).payloads})]
    profile(f"one batch of {args.batch}", args.batch, lambda: post(batch_path, big, 200), args.top)
    celery_queue_drop(os.environ["CELERY_BROKER_URL"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
