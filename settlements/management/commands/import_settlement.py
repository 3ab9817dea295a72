"""`manage.py import_settlement FILE --provider P [--channel CODE]`: import and match a file as
the upload endpoint would, here and now; prints API.md's JSON summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from retailsync.core.models import Channel

from ...loading import upload_create, upload_process
from ...models import Provider, Upload, channel_refused


class Command(BaseCommand):
    help = "Import a settlement file or bank statement and match it; prints a JSON summary."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--provider", required=True, choices=Provider.values)
        parser.add_argument("--channel", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        if refused := channel_refused(options["provider"], options["channel"]):
            raise CommandError(f"--channel: {refused}")
        channel = None
        if options["channel"]:
            channel = Channel.objects.filter(code=options["channel"]).first()
            if channel is None:
                raise CommandError(f"no channel {options['channel']!r}")
        with path.open("rb") as stream:
            upload = upload_create(
                stream=stream,
                name=path.name,
                provider=options["provider"],
                channel=channel,
                user=None,
                now=timezone.now(),
            )
        upload = upload_process(upload.pk)
        summary = {
            "upload_id": upload.pk,
            "status": upload.status,
            "batch_id": upload.batch_ids[0] if upload.batch_ids else None,
            "batches": upload.batch_ids,
            "lines": upload.counts.get("lines", 0),
            "new_lines": upload.counts.get("new_lines", 0),
            "matched": upload.counts.get("matched", 0),
            "unmatched": upload.counts.get("unmatched", 0),
            "variance": upload.counts.get("variance", 0),
            "duplicate": upload.counts.get("duplicate", 0),
            "errors": upload.errors,
        }
        self.stdout.write(json.dumps(summary))
        if upload.status == Upload.Status.FAILED:
            raise CommandError(f"refused: {upload.errors[0]['reason'] if upload.errors else ''}")
