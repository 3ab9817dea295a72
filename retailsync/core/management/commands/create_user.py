import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from retailsync.core.errors import DomainError
from retailsync.core.roles import ROLES
from retailsync.core.services import user_create


class Command(BaseCommand):
    help = "Create (or update) a staff user with a role and print a staff API token as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--password", default="")
        parser.add_argument("--email", default="")

    def handle(self, *args: Any, **o: Any) -> None:
        try:
            user, token = user_create(
                username=o["username"], role=o["role"], password=o["password"], email=o["email"]
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            json.dumps({"username": user.username, "role": o["role"], "token": token})
        )
