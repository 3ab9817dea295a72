import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from retailsync.core.errors import DomainError
from retailsync.core.models import Channel
from retailsync.core.services import channel_create


class Command(BaseCommand):
    help = "Create a channel and print its API token (shown once) as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code")
        parser.add_argument("--source", required=True, choices=Channel.Source.values)
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--legal-entity", default="")
        parser.add_argument("--secret", default="", help="Shared secret for signed webhooks.")
        parser.add_argument("--name", default="")
        parser.add_argument(
            "--locations",
            default="",
            help="Where its orders reserve stock and what it may sell: location codes in "
            "priority order, comma-separated (WH1,STORE1). Without them every order it sends "
            "is a backorder.",
        )

    def handle(self, *args: Any, **o: Any) -> None:
        # The command composes two apps: the core's channel and inventory's allocation, in one
        # transaction, so an unknown location leaves no channel behind.
        from inventory.services import allocation_set

        locations = [code.strip() for code in o["locations"].split(",") if code.strip()]
        try:
            with transaction.atomic():
                channel, token = channel_create(
                    code=o["code"],
                    source=o["source"],
                    currency=o["currency"].upper(),
                    legal_entity=o["legal_entity"],
                    secret=o["secret"],
                    name=o["name"],
                )
                if locations:
                    allocation_set(channel=channel, locations=locations)
        except DomainError as exc:
            raise CommandError(self._explain(exc, locations)) from None
        self.stdout.write(
            json.dumps(
                {
                    "code": channel.code,
                    "source": channel.source,
                    "currency": channel.currency,
                    "legal_entity": channel.legal_entity.code,
                    "locations": locations,
                    "token": token,
                    "orders_url": f"/api/v1/channels/{channel.code}/orders",
                }
            )
        )
        if not locations:
            self.stderr.write(
                f"Channel {channel.code} has no locations: every order it sends is a backorder "
                f"until it has some. Set them with PUT /api/v1/channels/{channel.code}/allocation "
                "or in the admin (Inventory › Channel allocations), or create the channel with "
                "--locations A,B."
            )

    def _explain(self, exc: DomainError, locations: list[str]) -> str:
        from inventory.models import Location

        if not any(e.field.startswith("locations") for e in exc.errors):
            return str(exc)
        known = set(Location.objects.filter(code__in=locations).values_list("code", flat=True))
        unknown = ", ".join(code for code in locations if code not in known)
        existing = ", ".join(Location.objects.order_by("code").values_list("code", flat=True))
        return (
            f"unknown location {unknown}: create it first (POST /api/v1/inventory/locations or "
            f"the admin, Inventory › Locations)"
            + (f", or choose from {existing}" if existing else "")
            + ". Nothing was created."
        )
