"""A local ERP for the adapters' tests: a real HTTP server on 127.0.0.1 (ThreadingHTTPServer on
an ephemeral port, in a thread) whose `handle` each test module writes as that ERP documents.

The server keeps every request it saw. A request whose shape breaks what the ERP documents is
answered 400 and written down in `violations`, which every test asserts empty, so a wrong shape
can never pass as "the ERP refused it". `stall(method, path)` makes the next matching request
do its work (the document exists) and then hold its answer past the client's timeout: what a
lost answer looks like from our side.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body, parse_float=Decimal)


@dataclass
class Answer:
    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_json(cls, status: int, data: Any, **headers: str) -> Answer:
        return cls(
            status, json.dumps(data, default=str), {"Content-Type": "application/json", **headers}
        )


class Violation(Exception):
    """The request breaks the ERP's documented shape."""


class LocalErp:
    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.violations: list[str] = []
        self.lock = threading.Lock()
        self._stalls: list[tuple[str, str, bytes, float]] = []
        self.stalled = threading.Event()  # set when a stalled answer has been (tried to be) sent
        self.server: ThreadingHTTPServer | None = None

    # What a test module writes: one request in, one answer out (state changes under the lock).
    def handle(self, request: Seen) -> Answer:
        raise NotImplementedError

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stall(self, method: str, path: str, seconds: float, *, contains: bytes = b"") -> None:
        """The next request matching (and whose body holds `contains`) is done, then answered
        only after `seconds`."""
        self._stalls.append((method, path, contains, seconds))

    def seen(self, method: str, path: str = "") -> list[Seen]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path)]

    def _answer(self, request: Seen) -> tuple[Answer, float]:
        with self.lock:
            self.requests.append(request)
            try:
                answer = self.handle(request)
            except Violation as violation:
                self.violations.append(f"{request.method} {request.path}: {violation}")
                answer = Answer(400, f"mock: {violation}")
            delay = 0.0
            for stall in self._stalls:
                method, path, contains, seconds = stall
                if (
                    request.method == method
                    and request.path.startswith(path)
                    and contains in request.body
                ):
                    self._stalls.remove(stall)
                    delay = seconds
                    break
        return answer, delay

    def serve(self) -> Iterator[LocalErp]:
        erp = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                answer, delay = erp._answer(Seen(self.command, parts.path, query, headers, body))
                if delay:
                    time.sleep(delay)
                payload = answer.body.encode()
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up waiting: the answer is lost
                    pass
                finally:
                    if delay:
                        erp.stalled.set()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any  # noqa: N815  # http.server's names

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join(5)


def require(condition: bool, message: str) -> None:
    if not condition:
        raise Violation(message)


def balanced(debits: list[Decimal], credits: list[Decimal]) -> bool:
    return sum(debits, Decimal(0)) == sum(credits, Decimal(0))
