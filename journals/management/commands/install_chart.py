"""`manage.py install_chart LEGAL_ENTITY`: the starting chart of accounts and its catch-all
mapping rules (journals/chart.py); what exists is left as it is."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from retailsync.core.errors import DomainError

from ...chart import chart_install


class Command(BaseCommand):
    help = "Give a legal entity the starting chart of accounts and mapping rules."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("legal_entity", help="The legal entity's code, e.g. US01")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            added = chart_install(legal_entity=options["legal_entity"])
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps({"legal_entity": options["legal_entity"], "added": added}))
