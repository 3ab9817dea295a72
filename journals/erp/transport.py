"""One delivery's HTTP conversation with an ERP, kept for the delivery log without its secrets.

The standard library's urllib does the talking: the adapters need no HTTP client package at run
time. Every call of a delivery (a lookup, the create, a post) is written down in order, with the
Authorization header masked and every secret value of the credentials replaced by `***`
(Odoo's JSON-RPC carries the password inside the body), and `Exchange.finish` turns the whole
conversation into the `Delivery` the outbox logs.

How an answer reads: no answer at all (a timeout, a refused connection), 429 and 5xx are worth
another try later; any other 4xx is the ERP refusing what we sent, which a person must fix.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .base import Credentials, Delivery

# A credentials value whose name holds one of these is a secret and never reaches the log.
SECRET_NAMES = ("token", "password", "secret", "key", "signature")
SHOWN_HEADERS = ("location", "retry-after", "content-type")
MASK = "***"


@dataclass(frozen=True, slots=True)
class Reply:
    """What came back for one call: `status` 0 when nothing did (`failure` says why)."""

    status: int
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    failure: str = ""
    settled: bool = False  # no answer, and none will come by trying again (a bad base URL)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def transient(self) -> bool:
        """Worth another try later: no answer, throttled, or the ERP's own trouble."""
        if self.status == 0:
            return not self.settled
        return self.status in (408, 429) or self.status >= 500

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def json(self) -> Any:
        """The body as JSON (numbers as Decimal), or None when it is not JSON."""
        try:
            return json.loads(self.body, parse_float=Decimal)
        except ValueError:
            return None


def secret_values(credentials: Credentials) -> tuple[str, ...]:
    return tuple(
        value
        for name, value in credentials.values.items()
        if value and any(word in name.lower() for word in SECRET_NAMES)
    )


class Exchange:
    """The calls of one delivery against one ERP, in order, as the delivery log will show them."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self._secrets = sorted(secret_values(credentials), key=len, reverse=True)
        self._requests: list[str] = []
        self._responses: list[str] = []

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        shown: str | None = None,
    ) -> Reply:
        """Send one request to `credentials.base_url + path`. `shown` is what the log keeps of
        the body when the body itself would say less (a base64 zip)."""
        url = self.credentials.base_url.rstrip("/") + path
        self._log_request(method, url, headers, shown if shown is not None else body)
        if url.startswith(("https://", "http://")):
            request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))  # noqa: S310  # http(s) only, checked above
            reply = self._open(request)
        else:
            reply = Reply(0, failure=f"the ERP's base URL must be http(s): {url!r}", settled=True)
        self._log_reply(reply)
        return reply

    def _open(self, request: urllib.request.Request) -> Reply:
        timeout = self.credentials.timeout
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310  # http(s) only
                return Reply(answer.status, _text(answer.read()), _headers(answer.headers))
        except urllib.error.HTTPError as error:
            try:
                text = _text(error.read())
            except (OSError, http.client.HTTPException):  # the body timed out or broke off
                text = ""
            finally:
                error.close()
            return Reply(error.code, text, _headers(error.headers))
        except TimeoutError:
            return Reply(0, failure=f"no answer within {timeout:g} s (timed out)")
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                return Reply(0, failure=f"no answer within {timeout:g} s (timed out)")
            return Reply(0, failure=f"could not reach the ERP: {error.reason}")
        except (OSError, http.client.HTTPException) as error:
            return Reply(0, failure=f"the connection broke: {error!r}")

    def _log_request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | str | None
    ) -> None:
        lines = [f"{method} {url}"]
        for name, value in headers.items():
            if name.lower() == "authorization":
                value = value.split(" ", 1)[0] + " " + MASK
            lines.append(f"{name}: {value}")
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body or ""
        self._requests.append(self.redact("\n".join(lines) + ("\n\n" + text if text else "")))

    def _log_reply(self, reply: Reply) -> None:
        if reply.status == 0:
            self._responses.append(reply.failure)
            return
        lines = [f"HTTP {reply.status}"]
        lines += [f"{name}: {reply.header(name)}" for name in SHOWN_HEADERS if reply.header(name)]
        text = "\n".join(lines) + ("\n\n" + reply.body if reply.body else "")
        self._responses.append(self.redact(text))

    def finish(
        self, *, ok: bool, document_id: str = "", retry: bool = False, error: str = ""
    ) -> Delivery:
        return Delivery(
            ok=ok,
            document_id=document_id,
            retry=retry,
            error=self.redact(error),
            request="\n\n----\n\n".join(self._requests),
            response="\n\n----\n\n".join(self._responses),
        )

    def done(self, document_id: str) -> Delivery:
        return self.finish(ok=True, document_id=document_id)

    def refused(self, error: str) -> Delivery:
        """The ERP (or our own guard) refused the journal: retrying the same cannot help."""
        return self.finish(ok=False, retry=False, error=error)

    def failed(self, reply: Reply, message: str = "") -> Delivery:
        """A call that did not succeed: retried later when the failure is transient."""
        if reply.status == 0:
            return self.finish(ok=False, retry=reply.transient, error=reply.failure)
        text = message or reply.body.strip()[:500] or f"HTTP {reply.status}"
        if reply.transient:
            wait = reply.header("retry-after")
            suffix = f" (retry after {wait} s)" if wait else ""
            return self.finish(ok=False, retry=True, error=f"HTTP {reply.status}: {text}{suffix}")
        return self.finish(ok=False, retry=False, error=f"HTTP {reply.status}: {text}")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _headers(message: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in message.items()} if message else {}
