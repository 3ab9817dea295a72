"""The reconciliation dashboard under volume: `/reconciliation/` for a month with 200,000 orders
and 1,000,000 settlement lines, loaded 20 times by a logged-in finance user through gunicorn as
shipped (production settings), beside a bare `SELECT count(*)` over the same tables.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/retailsync_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/reconciliation.py \\
        [--orders 200000] [--lines 1000000] [--loads 20]

Target (issue 13): p95 ≤ 300 ms. The data is written in bulk by bench/reconciliation_seed.py
(set-up, not the product's paths). Exits 1 if a page is not a 200 or lacks its figures.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench import harness

TARGET_P95_MS = 300.0


def request(
    port: int, method: str, path: str, cookies: dict[str, str], body: str = ""
) -> tuple[int, dict[str, str], bytes]:
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Forwarded-Proto: https\r\n"
        f"Referer: https://127.0.0.1:{port}/login/\r\nCookie: {cookie}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
    )
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(head.encode())
        data = b""
        while chunk := sock.recv(262_144):
            data += chunk
    header, _, payload = data.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    for line in lines[1:]:
        if line.lower().startswith("set-cookie:"):
            name, _, rest = line.split(":", 1)[1].strip().partition("=")
            cookies[name] = rest.split(";", 1)[0]
    return status, {}, payload


def login(port: int) -> dict[str, str]:
    cookies: dict[str, str] = {}
    status, _, page = request(port, "GET", "/login/", cookies)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if status != 200 or token is None:
        raise RuntimeError(f"login page: {status}")
    form = urlencode(
        {
            "csrfmiddlewaretoken": token.group(1).decode(),
            "username": "bench-finance",
            "password": "bench-finance-password-1",
        }
    )
    status, _, _ = request(port, "POST", "/login/", cookies, form)
    if status != 302 or "sessionid" not in cookies:
        raise RuntimeError(f"login failed: {status}")
    return cookies


def percentile(values: list[float], q: float) -> float:
    return harness.percentile(values, q)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--loads", type=int, default=20)
    args = parser.parse_args()
    url = harness.bench_database_url()
    env = harness.production_env(url, harness.DEFAULT_BROKER_URL)
    harness.database_recreate(url)
    harness.manage(env, "migrate", "--noinput", "-v0")
    started = time.perf_counter()
    seeded = subprocess.run(
        [sys.executable, "-m", "bench.reconciliation_seed", str(args.orders), str(args.lines)],
        cwd=harness.ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if seeded.returncode:
        raise RuntimeError(f"seed failed:\n{seeded.stdout}{seeded.stderr}")
    print(f"set-up: {seeded.stdout.strip()} in {time.perf_counter() - started:.0f} s")
    problems: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        bare = []
        for _ in range(args.loads):
            t = time.perf_counter()
            conn.execute("SELECT count(*) FROM orders_order").fetchone()
            conn.execute("SELECT count(*) FROM settlements_settlementline").fetchone()
            bare.append((time.perf_counter() - t) * 1000)
    with harness.gunicorn(env) as (port, _pid):
        cookies = login(port)
        path = "/reconciliation/?period=2026-10"
        timings: list[float] = []
        first_ms = 0.0
        for n in range(args.loads + 2):
            t = time.perf_counter()
            status, _, page = request(port, "GET", path, cookies)
            ms = (time.perf_counter() - t) * 1000
            if status != 200 or b'data-figure="settled_net"' not in page:
                problems.append(f"load {n}: status {status}")
            if n == 0:  # the rollup takes in the whole seeded month (rollup.py)
                first_ms = ms
            if n >= 2:  # two warm-up loads: connections and caches, as a live site has them
                timings.append(ms)
        api_t = time.perf_counter()
        status, _, _ = request(port, "GET", "/api/v1/reconciliation/?period=2026-10", cookies)
        api_ms = (time.perf_counter() - api_t) * 1000
    p50, p95 = percentile(timings, 50), percentile(timings, 95)
    b50, b95 = percentile(bare, 50), percentile(bare, 95)
    print(f"\n{harness.describe_config()}; {args.orders:,} orders, {args.lines:,} settlement lines")
    print(f"{'':38} {'p50 ms':>8} {'p95 ms':>8}")
    print(f"{'bare SELECT count(*) x2 (baseline)':38} {b50:8.1f} {b95:8.1f}")
    print(f"{'/reconciliation/ (20 loads)':38} {p50:8.1f} {p95:8.1f}   ratio p95 {p95 / b95:.1f}x")
    print(f"{'GET /api/v1/reconciliation/ (once)':38} {api_ms:8.1f}")
    print(f"{'first load: rollup of the seeded month':38} {first_ms:8.1f}")
    verdict = "PASS" if p95 <= TARGET_P95_MS else "FAIL"
    print(f"target p95 <= {TARGET_P95_MS:.0f} ms: {verdict}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    harness.RESULTS.mkdir(exist_ok=True)
    report: dict[str, Any] = {
        "p50_ms": p50,
        "p95_ms": p95,
        "bare_p95_ms": b95,
        "api_ms": api_ms,
        "first_ms": first_ms,
    }
    return harness.report_save(
        harness.RESULTS / f"reconciliation-{int(time.time())}.json", report, started, problems
    )


if __name__ == "__main__":
    harness.run(main)
