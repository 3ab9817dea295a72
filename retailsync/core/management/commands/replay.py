import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from retailsync.core.models import InboundMessage
from retailsync.core.replay import events_replay, messages_replay


class Command(BaseCommand):
    help = (
        "Re-process stored inbound messages through the same pipeline, by id, correlation id or"
        " status; or dispatch domain events again (--event), poison events among them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="*", type=int, help="Inbound message ids.")
        parser.add_argument("--correlation-id", action="append", default=[])
        parser.add_argument("--status", choices=InboundMessage.Status.values)
        parser.add_argument("--channel", help="Only this channel's messages.")
        parser.add_argument("--limit", type=int, default=1000)
        parser.add_argument(
            "--event", action="append", type=int, default=[], help="A domain event id."
        )

    def handle(self, *args: Any, **o: Any) -> None:
        if o["event"]:
            replayed = events_replay(event_ids=o["event"])
            for e in replayed:
                self.stdout.write(
                    json.dumps({"event": e.event_id, "status": e.status, "detail": e.detail})
                )
            self.stderr.write(f"replayed {len(replayed)} event(s)")
            if not (o["ids"] or o["correlation_id"] or o["status"]):
                return
        if not (o["ids"] or o["correlation_id"] or o["status"]):
            raise CommandError("say which messages: ids, --correlation-id or --status; or --event")
        qs = InboundMessage.objects.select_related("channel").order_by("pk")
        if o["ids"]:
            qs = qs.filter(pk__in=o["ids"])
        if o["correlation_id"]:
            qs = qs.filter(correlation_id__in=o["correlation_id"])
        if o["status"]:
            qs = qs.filter(status=o["status"])
        if o["channel"]:
            qs = qs.filter(channel__code=o["channel"])
        results = messages_replay(qs[: o["limit"]])
        for r in results:
            self.stdout.write(
                json.dumps({"message": r.message_id, "status": r.status, "detail": r.detail})
            )
        self.stderr.write(f"replayed {len(results)} message(s)")
