#!/usr/bin/env python3
"""`make serve`: retailsync as production runs it, on this machine.

Runs `migrate` and `collectstatic`, then gunicorn (configured by /gunicorn.conf.py), a Celery
worker and Celery beat, with `retailsync.settings_production` unless DJANGO_SETTINGS_MODULE says
otherwise. It needs what those settings need (SECRET_KEY, DATABASE_URL, CELERY_BROKER_URL,
ALLOWED_HOSTS: README.md, "Running it for real").

Each process has a session of its own, so a terminal's Ctrl-C reaches only this script, which
then sends each process one SIGTERM: gunicorn finishes the requests in flight, the worker the
tasks it holds (a late-acknowledged task it gives up goes back to the queue). SIGTERM to this
script does the same. If one process exits by itself, the others are stopped too.

gunicorn's workers and the Celery worker's processes count requests, orders and task failures
each in its own process: they share a PROMETHEUS_MULTIPROC_DIR (a fresh temporary one unless
given; a given one has its old counts removed first), so `/metrics` sums them all.

Exit status: 0 when stopped on request and every process exited cleanly; 1 when a process
exited by itself, exited uncleanly, or had to be killed; a failed `migrate` or `collectstatic`
exits with that command's status and starts nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# gunicorn's graceful_timeout is 30 s; the worker's warm shutdown waits for its running tasks.
STOP_SECONDS = float(os.environ.get("SERVE_STOP_SECONDS", "60"))


def log(message: str) -> None:
    print(f"serve: {message}", file=sys.stderr, flush=True)


def processes() -> dict[str, list[str]]:
    worker = [PYTHON, "-m", "celery", "-A", "retailsync", "worker", "--loglevel=INFO"]
    if os.environ.get("CELERY_CONCURRENCY"):
        worker.append(f"--concurrency={os.environ['CELERY_CONCURRENCY']}")
    schedule = os.environ.get("BEAT_SCHEDULE_FILE") or str(ROOT / "celerybeat-schedule")
    return {
        "gunicorn": [PYTHON, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py")],
        "worker": worker,
        "beat": [PYTHON, "-m", "celery", "-A", "retailsync", "beat", "--loglevel=INFO",
                 f"--schedule={schedule}"],
    }  # fmt: skip


def prepare() -> int:
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput", "-v0"]):
        log(f"manage.py {' '.join(command)}")
        status = subprocess.call([PYTHON, "manage.py", *command], cwd=ROOT)  # noqa: S603
        if status != 0:
            log(f"manage.py {command[0]} failed with status {status}; nothing started")
            return status
    return 0


def metrics_dir() -> Path | None:
    """PROMETHEUS_MULTIPROC_DIR for every process started here, emptied of a previous run's
    counts (prometheus-client asks for that between runs). Returns a directory made here, to be
    removed at the end."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return None
    made = Path(tempfile.mkdtemp(prefix="retailsync-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(made)
    return made


def stop(running: dict[str, subprocess.Popen[bytes]]) -> bool:
    """SIGTERM to each, then wait; True when every one exited with status 0 in time."""
    for proc in running.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    clean = True
    for name, proc in running.items():
        try:
            status = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log(f"{name} (pid {proc.pid}) still running after {STOP_SECONDS:.0f} s: killed")
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: its children go with it
            proc.wait()
            clean = False
            continue
        log(f"{name} (pid {proc.pid}) exited with status {status}")
        clean = clean and status == 0
    return clean


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retailsync.settings_production")
    status = prepare()
    if status != 0:
        return status

    requested = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log(f"{signal.Signals(signum).name} received: stopping")
        requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    made = metrics_dir()

    running: dict[str, subprocess.Popen[bytes]] = {}
    for name, command in processes().items():
        if requested.is_set():
            break
        running[name] = subprocess.Popen(command, cwd=ROOT, start_new_session=True)  # noqa: S603
        log(f"{name} started (pid {running[name].pid})")

    ended_alone = None
    while not requested.is_set():
        ended_alone = next((n for n, p in running.items() if p.poll() is not None), None)
        if ended_alone is not None:
            log(f"{ended_alone} exited by itself (status {running[ended_alone].returncode})")
            break
        requested.wait(0.5)
    clean = stop(running)
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)
    return 0 if clean and ended_alone is None else 1


if __name__ == "__main__":
    sys.exit(main())
