import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from retailsync.demo import DEMO_PASSWORD, seed


@contextmanager
def workers_quiet() -> Iterator[None]:
    """Tasks run in-process while the demo loads, and Celery logs every one of them (hundreds
    of lines, and a broker warning): keep their logs to errors until the seed is done."""
    loggers = [logging.getLogger(name) for name in ("celery", "kombu")]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, before, strict=True):
            logger.setLevel(level)


# The demo channel the printed curl example posts as, and what it posts (canonical JSON).
EXAMPLE_CHANNEL = "wholesale"
EXAMPLE_ORDER = "tests/fixtures/canonical/order.json"


def instructions(report: Mapping[str, Any], url: str) -> str:
    """What a person needs to try the demo: where, who, what was loaded, the channels' tokens,
    one order."""
    url = url.rstrip("/")
    width = max(len(code) for code in report["tokens"]) if report["tokens"] else 0
    lines = [
        f"retailsync demo: {url}/",
        f"Log in as {', '.join(report['users'][:-1])} or {report['users'][-1]}, password "
        f"{DEMO_PASSWORD}.",
    ]
    if report["orders"] or report["rejected"]:
        lines.append(
            f"Loaded {report['orders']} orders; {report['rejected']} were wrong on purpose and "
            "wait in the exception queue."
        )
    settled = report.get("settlements") or {}
    if settled.get("files"):
        lines += [
            f"Imported {settled['files']} settlement files and bank statements: "
            f"{settled['payouts']} payouts, {settled['lines']} lines,",
            f"{settled['exceptions']} for a person to look at, {settled['deposited']} payouts "
            f"found in the bank: {url}/settlements/",
        ]
        if settled["refused"]:
            lines.append(f"{settled['refused']} files were refused (see the exception queue).")
    if len(lines) == 2:
        lines.append("The demo data was loaded before; nothing was added.")
    lines += [
        "",
        "Channel API tokens (new ones each run; earlier ones keep working):",
        *(f"  {code:<{width}}  {token}" for code, token in report["tokens"].items()),
    ]
    if EXAMPLE_CHANNEL in report["tokens"]:
        lines += [
            "",
            f"Post an order as {EXAMPLE_CHANNEL} (canonical JSON), from this folder:",
            f"  curl -X POST {url}/api/v1/channels/{EXAMPLE_CHANNEL}/orders \\",
            f'       -H "Authorization: Token {report["tokens"][EXAMPLE_CHANNEL]}" \\',
            f'       -H "Content-Type: application/json" --data @{EXAMPLE_ORDER}',
        ]
    lines += ["", f"API docs: {url}/api/docs/"]
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Load the demo retailer (channels, users, a month of orders, the providers' settlement "
        "files and a bank statement). Idempotent. Prints what a person needs to try it: the "
        "URL, the logins, the channels' tokens, an order to post."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders-per-channel", type=int, default=25)
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000/", help="Where the demo is served."
        )
        parser.add_argument(
            "--json", action="store_true", help="Print what was loaded as JSON, for scripts."
        )

    def handle(self, *args: Any, **o: Any) -> None:
        with workers_quiet():
            report = seed(orders_per_channel=o["orders_per_channel"])
        if o["json"]:
            self.stdout.write(json.dumps({**report, "password": DEMO_PASSWORD}, indent=2))
        else:
            self.stdout.write(instructions(report, o["url"]))
