import json
import shlex
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from retailsync.core.credentials import Actor, channel_tokens_rotate
from retailsync.core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Issue a new API token for a channel and print it (shown once) as JSON. The channel's "
        "current token keeps working for --expire-old-in minutes, so it can switch without a gap."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code")
        parser.add_argument(
            "--expire-old-in",
            type=int,
            default=60,
            metavar="MINUTES",
            help="How long the current token keeps working (default 60; 0 ends it now).",
        )

    def handle(self, *args: Any, **o: Any) -> None:
        minutes = str(o["expire_old_in"])
        try:
            [rotation] = channel_tokens_rotate(
                codes=[o["code"]],
                expire_old_in=timedelta(minutes=o["expire_old_in"]),
                actor=Actor.of_command(
                    shlex.join(["manage.py", "rotate_token", o["code"], "--expire-old-in", minutes])
                ),
                now=timezone.now(),
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        channel = rotation.channel
        self.stdout.write(
            json.dumps(
                {
                    "code": channel.code,
                    "source": channel.source,
                    "token": rotation.token,
                    "old_token_expires_at": rotation.old_expire_at.isoformat()
                    if rotation.old_expire_at
                    else None,
                    "revoked": rotation.revoked,
                    "orders_url": f"/api/v1/channels/{channel.code}/orders",
                }
            )
        )
