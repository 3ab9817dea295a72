"""Journals for a month of shipped orders and a large settlement, against the issue's target,
beside the SQL aggregation of the same source rows measured in the same run.

On a freshly created PostgreSQL database, with production's settings (bench/harness.py), the
set-up (bench/journals_setup.py) ingests N orders in-process through the batch ingest service,
ships them (a few through the shipment service, the rest by a set-based set-up path), and
uploads and matches an Amazon settlement of 5 lines per order (N = 200,000: 1,000,000 lines).
Then, timed:

  a. baseline  one SQL statement: the per-group sums of the same source rows (shipped lines
               by day, channel, currency; settlement lines by kind and sign), what the
               journals summarize, with nothing written;
  b. journals  what `POST journals/run` and `manage.py post_journals` do,
               `journals.services.run.journals_run` for the period, in a process of its own
               (so its peak RSS is the posting's): every `order.shipped` and
               `settlement.batch_matched` event not posted yet into summarized draft entries;
  c. again     the same run once more: it must post nothing and change nothing.

Targets (issue 12): b <= 20 s, peak RSS of b's process <= 300 MB, entry count bounded by the
grouping (legal entity x channel x payment method x day x currency), not by the lines. Checked
(any failure exits 1): every entry balances; exactly the expected entries; one PostedSource per
shipment and batch; one JournalLineSource per source record and line it feeds (each shipment's
order per line it touches, each settlement line per amount column it has), whose amounts add up
to their line; every posted account's total per day equal to the baseline's sums; the second
run posting nothing. A missed target prints FAIL and leaves the exit status alone; set-up
failures exit 2.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/retailsync_bench \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/journals.py [--orders N]

`--quick`: 5,000 orders / 25,000 settlement lines; below full size the time and memory targets
are printed but not judged. Results: bench/results/journals-<ts>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    DEFAULT_BROKER_URL,
    RESULTS,
    ROOT,
    background_busy,
    bench_database_url,
    celery_queue_drop,
    cpu_merged,
    cpu_sample,
    cpu_spent,
    database_recreate,
    manage,
    production_env,
    report_save,
    run,
)
from bench.journals_checks import BASELINE_SQL, Expected, expected_read, problems_find

TARGET_SECONDS = 20.0
TARGET_RSS_MB = 300.0
DEFAULT_ORDERS = 200_000
QUICK_ORDERS = 5_000


@dataclass(slots=True)
class Posted:
    seconds: float  # journals_run alone, inside the child
    process_seconds: float  # the child from start to exit (Django set-up included)
    cpu_seconds: float  # the child's own CPU during journals_run
    process_cpu_seconds: float  # the child's CPU from start to exit
    postgres_cpu_seconds: float
    other_cpu_seconds: float
    peak_rss_mb: float
    rss_before_mb: float  # after Django's set-up, before the run
    entries: int  # entries made or added to, as journals_run says


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM): unlike getrusage's ru_maxrss, which Linux
    keeps across exec, so that a child started by the set-up process would report the set-up's
    peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def post_child(period: str) -> None:
    """The posting process: Django, then journals_run timed; one JSON line on stdout."""
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from journals.services.run import journals_run

    connection.ensure_connection()
    rss_before = peak_rss_mb()
    cpu, began = time.process_time(), time.perf_counter()
    entries = journals_run(period=period, now=timezone.now())
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    peak = peak_rss_mb()
    print(
        json.dumps(
            {"seconds": seconds, "cpu": cpu, "peak": peak, "before": rss_before, "entries": entries}
        )
    )


def post(env: dict[str, str], period: str) -> Posted:
    """The child, with the machine's CPU sampled every 0.2 s meanwhile (a database connection
    that ends takes its CPU figures with it)."""
    began = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--post-child", period],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    roles = {child.pid: "server"}
    samples = [cpu_sample(roles)]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            samples.append(cpu_sample(roles))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = child.communicate()
    wall = time.perf_counter() - began
    stop.set()
    sampler.join()
    samples.append(cpu_sample(roles))
    spent = cpu_spent(samples[0], cpu_merged(samples), 0.0, wall)
    if child.returncode:
        raise RuntimeError(f"the journal run failed:\n{out}{err}")
    said = json.loads(out.strip().splitlines()[-1])
    return Posted(
        seconds=round(said["seconds"], 3),
        process_seconds=round(wall, 3),
        cpu_seconds=round(said["cpu"], 3),
        postgres_cpu_seconds=round(spent["postgres"], 3),
        process_cpu_seconds=round(spent["server"], 3),
        other_cpu_seconds=round(spent["other"], 3),
        peak_rss_mb=round(said["peak"], 1),
        rss_before_mb=round(said["before"], 1),
        entries=int(said["entries"]),
    )


def baseline(url: str) -> tuple[float, list[tuple[Any, ...]]]:
    """The aggregation alone, timed in a fresh connection (best of two, the first warms)."""
    best, rows = float("inf"), []
    for _ in range(2):
        with psycopg.connect(url) as conn:
            began = time.perf_counter()
            rows = conn.execute(BASELINE_SQL).fetchall()
            best = min(best, time.perf_counter() - began)
    return best, rows


@dataclass(slots=True)
class Row:
    flow: str
    value: float
    unit: str
    ratio: float | None
    target: str
    verdict: str


def print_table(rows: Sequence[Row]) -> None:
    head = f"{'':<46}{'value':>12} {'unit':<8}{'ratio':>8}  {'target':<14}result"
    print(f"\n{head}\n{'-' * len(head)}")
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:.1f}x"
        value = f"{r.value:,.2f}" if r.value != int(r.value) else f"{int(r.value):,}"
        print(f"{r.flow:<46}{value:>12} {r.unit:<8}{ratio:>8}  {r.target:<14}{r.verdict}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def make_rows(
    base: float, first: Posted, again: Posted, expected: Expected, full: bool
) -> list[Row]:
    """Time and memory are judged at the issue's size only; smaller runs print "-" there."""

    def judged(ok: bool) -> str:
        return verdict(ok) if full else "- (full size)"

    return [
        Row("a. SQL aggregation of the source rows", base, "s", None, "baseline", "-"),
        Row(
            "b. journals_run (POST journals/run)",
            first.seconds,
            "s",
            first.seconds / base if base else None,
            f"<= {TARGET_SECONDS:.0f} s",
            judged(first.seconds <= TARGET_SECONDS),
        ),
        Row("   its process, start to exit", first.process_seconds, "s", None, "", "-"),
        Row(
            "   peak RSS of the posting process",
            first.peak_rss_mb,
            "MB",
            None,
            f"<= {TARGET_RSS_MB:.0f} MB",
            judged(first.peak_rss_mb <= TARGET_RSS_MB),
        ),
        Row(
            "   entries (grouping bounds them)",
            expected.entries_found,
            "entries",
            None,
            f"= {expected.entries}",
            verdict(expected.entries_found == expected.entries),
        ),
        Row("   journal lines", expected.lines_found, "lines", None, "", "-"),
        Row(
            "   source links",
            expected.sources_found,
            "rows",
            None,
            f"= {expected.sources:,}",
            verdict(expected.sources_found == expected.sources),
        ),
        Row("c. the same run again (posts nothing)", again.seconds, "s", None, "", "-"),
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=DEFAULT_ORDERS)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ORDERS:,} orders")
    parser.add_argument("--post-child", metavar="PERIOD", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.post_child:
        post_child(args.post_child)
        return 0
    orders = QUICK_ORDERS if args.quick else args.orders
    url = bench_database_url()
    broker_url = os.environ.get("CELERY_BROKER_URL") or DEFAULT_BROKER_URL
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    started = time.perf_counter()
    busy_before = background_busy()
    if busy_before > 0.15:
        print(f"warning: {busy_before:.0%} of the CPUs were busy before the run started")
    media = tempfile.TemporaryDirectory(prefix="bench-journals-")
    env = {**production_env(url, broker_url), "MEDIA_ROOT": media.name}
    os.environ.update(env)
    print(f"recreating {url}, migrating ...", flush=True)
    database_recreate(url)
    celery_queue_drop(broker_url)
    manage(env, "migrate", "--noinput", "-v0")
    import django

    django.setup()
    from bench.journals_setup import PERIOD, data_load, shipments_check

    print(f"set-up: {orders:,} orders shipped, a settlement of {orders * 5:,} lines", flush=True)
    setup = data_load(orders)
    problems = shipments_check()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")

    print("a. baseline: the SQL aggregation ...", flush=True)
    base, groups = baseline(url)
    print(f"b. journals_run for {PERIOD} in a process of its own ...", flush=True)
    first = post(env, PERIOD)
    with psycopg.connect(url) as conn:
        expected = expected_read(conn, groups)
    print("c. the same run again ...", flush=True)
    again = post(env, PERIOD)
    with psycopg.connect(url) as conn:
        problems += problems_find(conn, groups, expected, again_entries=again.entries)
    tasks_enqueued = celery_queue_drop(broker_url)
    media.cleanup()

    rows = make_rows(base, first, again, expected, full=orders >= DEFAULT_ORDERS)
    print_table(rows)
    print(
        f"\nposting process: {first.cpu_seconds:.2f} s CPU of its own, PostgreSQL "
        f"{first.postgres_cpu_seconds:.2f} s, others' work {first.other_cpu_seconds:.2f} s; "
        f"RSS {first.rss_before_mb:.0f} MB after Django's set-up"
    )
    for problem in problems:
        print(f"CORRECTNESS FAILURE: {problem}")
    if not problems:
        print("correctness: every check passed")
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {
        "run": run_id,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "busy_before_run": round(busy_before, 3),
        },
        "settings": env["DJANGO_SETTINGS_MODULE"],
        "sizes": {"orders": orders, "settlement_lines": setup.settlement_lines},
        "setup_seconds": setup.seconds,
        "targets": {"seconds": TARGET_SECONDS, "peak_rss_mb": TARGET_RSS_MB},
        "baseline_seconds": round(base, 3),
        "journals": asdict(first),
        "again": asdict(again),
        "expected": asdict(expected),
        "rows": [asdict(r) for r in rows],
        "celery_tasks_enqueued": tasks_enqueued,
        "correctness_problems": problems,
    }
    return report_save(RESULTS / f"journals-{run_id}.json", report, started, problems)


if __name__ == "__main__":
    run(main)
