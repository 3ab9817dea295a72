"""`manage.py post_journals --period YYYY-MM`: what `POST journals/run` does."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from retailsync.core.errors import DomainError

from ...services.run import journals_run


class Command(BaseCommand):
    help = "Build or complete the draft journals of everything up to a period not journaled yet."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", required=True, help="YYYY-MM")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            entries = journals_run(period=options["period"], now=timezone.now())
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps({"period": options["period"], "entries": entries}))
