"""Outside measures of a process at work, for the benchmarks: peak resident memory from /proc,
and the statements a process's database sessions executed, from PostgreSQL's own log.

The statement log needs the measured process started with `PGOPTIONS=-c log_statement=all`
(libpq passes it to every session it opens; a superuser setting, as the bench's `postgres`
role is): the server then logs each statement those sessions execute, one entry per simple
query or extended-protocol execute, COPY included, with the log line prefix Debian ships
(`%m [%p] %q%u@%d `) naming the database. Nothing in the measured code changes.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from collections.abc import Iterator
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


_ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[\d+\] \S*@(\S+) (\w+):  ")
_SQL = re.compile(r"^(?:statement|execute [^:]*): (.*)", re.S)
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

    def _statements(self, offset: int) -> Iterator[str]:
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
            if entry and (sql := _SQL.match("\n".join(entry))):
                yield " ".join(sql.group(1).split())
            entry = []
            if head.group(1) == self.db and head.group(2) == "LOG":
                entry = [line[head.end() :]]

    def count(self, offset: int) -> tuple[int, dict[str, int]] | None:
        """The upload task's statements (its first to its last on settlements_upload), by
        verb and first table."""
        if self.path is None:
            return None
        statements = list(self._statements(offset))
        marks = [i for i, s in enumerate(statements) if "settlements_upload" in s]
        if not marks:
            return None
        mine = statements[marks[0] : marks[-1] + 1]
        kinds: Counter[str] = Counter()
        for s in mine:
            table = _TABLE.search(s)
            kinds[f"{s.split(' ', 1)[0].upper()} {table.group(1) if table else ''}".strip()] += 1
        return len(mine), dict(kinds)
