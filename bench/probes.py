"""Outside measures of a process at work, for the benchmarks: peak resident memory from /proc,
and the statements a process's database sessions executed, from PostgreSQL's own log.

The statement log needs the measured process started with `PGOPTIONS` =
`STATEMENT_LOGGING` (libpq passes it to every session it opens; a superuser setting, which the
bench's `postgres` role is): the server then logs each statement those sessions execute with
its duration, one entry per simple query or extended-protocol execute (parse and bind have
entries of their own, not counted), COPY included, under the log line prefix Debian ships
(`%m [%p] %q%u@%d `), which names the database. Nothing in the measured code changes.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def children(parent: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2 :].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def _status_mb(pid: int, key: str) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class RssSampler:
    """Peak resident memory by role, sampled every 0.2 s, and each process's VmHWM (reset
    through clear_refs at the start where the kernel lets us)."""

    def __init__(self, roles: dict[str, list[int]]) -> None:
        self.roles = roles
        self.before = {r: max(_status_mb(p, "VmRSS") for p in pids) for r, pids in roles.items()}
        self.peak = dict(self.before)
        self.hwm_reset = True
        for pid in (p for pids in roles.values() for p in pids):
            try:
                with open(f"/proc/{pid}/clear_refs", "w") as f:
                    f.write("5")
            except OSError:
                self.hwm_reset = False
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stopping.wait(0.2):
            for role, pids in self.roles.items():
                self.peak[role] = max(self.peak[role], *(_status_mb(p, "VmRSS") for p in pids))

    def stop(self) -> dict[str, dict[str, float]]:
        self.stopping.set()
        self.thread.join()
        out = {}
        for role, pids in self.roles.items():
            hwm = max(_status_mb(p, "VmHWM") for p in pids) if self.hwm_reset else 0.0
            out[role] = {"before": self.before[role], "peak": max(self.peak[role], hwm)}
        return out


STATEMENT_LOGGING = "-c log_min_duration_statement=0"
_ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[\d+\] \S*@(\S+) (\w+):  ")
_SQL = re.compile(r"^duration: ([\d.]+) ms  (?:statement|execute [^:]*): (.*)", re.S)
_TABLE = re.compile(r'"?\b((?:settlements|orders|core|inventory|returns|journals|auth)_\w+)')


class StatementLog:
    """The statements the upload worker's sessions executed, from PostgreSQL's log."""

    def __init__(self, path: Path | None, db: str) -> None:
        if path is None:
            logs = sorted(Path("/var/log/postgresql").glob("postgresql-*.log"))
            path = max(logs, key=lambda p: p.stat().st_mtime) if logs else None
        self.path = path if path is not None and os.access(path, os.R_OK) else None
        self.db = db

    def mark(self) -> int:
        return self.path.stat().st_size if self.path else 0

    def _statements(self, offset: int) -> Iterator[tuple[float, str]]:
        """(milliseconds, SQL) of each statement this database's sessions logged."""
        assert self.path is not None
        with self.path.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        entry: list[str] = []
        for line in [*text.splitlines(), "0000-00-00 00:00:00 X [0] @- END:  "]:
            head = _ENTRY.match(line)
            if head is None:
                entry.append(line)
                continue
            if entry and (found := _SQL.match("\n".join(entry))):
                yield float(found.group(1)), " ".join(found.group(2).split())
            entry = []
            if head.group(1) == self.db and head.group(2) == "LOG":
                entry = [line[head.end() :]]

    def count(self, offset: int) -> Statements | None:
        """The upload task's statements: its first to its last on settlements_upload."""
        if self.path is None:
            return None
        statements = list(self._statements(offset))
        marks = [i for i, (_, sql) in enumerate(statements) if "settlements_upload" in sql]
        if not marks:
            return None
        mine = statements[marks[0] : marks[-1] + 1]
        kinds: Counter[str] = Counter()
        ms: Counter[str] = Counter()
        for took, sql in mine:
            table = _TABLE.search(sql)
            kind = f"{sql.split(' ', 1)[0].upper()} {table.group(1) if table else ''}".strip()
            kinds[kind] += 1
            ms[kind] += took
        slowest = sorted(mine, reverse=True)[:5]
        return Statements(
            count=len(mine),
            kinds=dict(kinds),
            seconds={k: round(v / 1000, 3) for k, v in ms.items()},
            slowest=[(round(took / 1000, 3), _gist(sql)) for took, sql in slowest],
        )


def _gist(sql: str) -> str:
    """The statement's start, and what it joins (which of several alike it is)."""
    start, join, rest = sql.partition(" JOIN ")
    return f"{start[:70]} … JOIN {rest[:90]}" if join else sql[:160]


@dataclass(slots=True)
class Statements:
    count: int
    kinds: dict[str, int]  # statements by verb and first table
    seconds: dict[str, float]  # their time in PostgreSQL, by the same
    slowest: list[tuple[float, str]]  # the five slowest (seconds, SQL's gist)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())
