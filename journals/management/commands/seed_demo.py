import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from journals.demo import DEMO_PASSWORD, seed


class Command(BaseCommand):
    help = "Load the demo retailer (channels, users, a month of orders). Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders-per-channel", type=int, default=25)

    def handle(self, *args: Any, **o: Any) -> None:
        report = seed(orders_per_channel=o["orders_per_channel"])
        self.stdout.write(json.dumps({**report, "password": DEMO_PASSWORD}, indent=2))
