import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from retailsync.errors import DomainError
from retailsync.models import Channel
from retailsync.services import channel_create


class Command(BaseCommand):
    help = "Create a channel and print its API token (shown once) as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code")
        parser.add_argument("--source", required=True, choices=Channel.Source.values)
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--legal-entity", default="")
        parser.add_argument("--secret", default="", help="Shared secret for signed webhooks.")
        parser.add_argument("--name", default="")

    def handle(self, *args: Any, **o: Any) -> None:
        try:
            channel, token = channel_create(
                code=o["code"],
                source=o["source"],
                currency=o["currency"].upper(),
                legal_entity=o["legal_entity"],
                secret=o["secret"],
                name=o["name"],
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            json.dumps(
                {
                    "code": channel.code,
                    "source": channel.source,
                    "currency": channel.currency,
                    "legal_entity": channel.legal_entity.code,
                    "token": token,
                    "orders_url": f"/api/v1/channels/{channel.code}/orders",
                }
            )
        )
