"""Uploads: a file stored as it came, then read, staged, kept and matched by a worker.

`upload_create` (web process, or `manage.py import_settlement`) stores the file in chunks while
hashing it; `upload_process` (the Celery task) reads it a record at a time through its format's
parser. Nothing is kept from a file that cannot be trusted: the lines wait in the connection's
temporary table until the last row has parsed and the control totals agree (staging.py).
Re-running an upload, or a worker picking it up again after another died mid-file, starts the
file from its first byte and ends with the same batches and lines. A done upload's
`counts["seconds"]` says where its time went (read: parse and stage; keep; match), for whoever
looks into a slow one.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import IO, Any

from django.contrib.auth.models import User
from django.core.files.base import File
from django.db import DataError, connection, transaction
from django.utils import timezone

from retailsync.core.correlation import ensure_correlation_id
from retailsync.core.models import Channel
from retailsync.core.services import exception_raise

from .batches import batches_save, batches_totals
from .models import BANK_FORMATS, ProviderSettings, SettlementBatch, SettlementLine, Upload
from .parsers import PARSERS
from .parsers.base import ColumnMapping, ParsedBatch, ParsedLine, ParseError
from .staging import (
    FRESH,
    analyze,
    fresh_create,
    fresh_drop,
    lines_commit,
    staging_create,
    staging_drop,
    staging_write,
)

logger = logging.getLogger(__name__)

ANALYZE_AFTER = 50_000  # new lines after which the planner gets fresh statistics
PARTS = 10  # COPY statements and progress updates per file (a part at most a tenth of it)
MAX_ERRORS = 20
_LOOK = 256
STALE_AFTER = timedelta(minutes=3)  # an upload whose worker stopped beating is picked up again
# Reads begun before one is given up: a worker stopped mid-file is no fault of the file, but a
# file that stops every worker that reads it is not read forever, three minutes apart.
READ_ATTEMPTS = 3


def upload_create(
    *,
    stream: IO[bytes],
    name: str,
    provider: str,
    channel: Channel | None,
    user: User | None,
    now: datetime,
) -> Upload:
    """Store the file and queue it. The same file (by hash) already read for this provider:
    the upload is done at once with the batches that one made, and nothing is added."""
    digest = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: stream.read(1024 * 1024), b""):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    upload = Upload(
        provider=provider,
        channel=channel,
        name=name[:255],
        size=size,
        sha256=digest.hexdigest(),
        created_by=user if user is not None and user.is_authenticated else None,
        correlation_id=ensure_correlation_id(),
        created_at=now,
    )
    same = (
        Upload.objects.filter(provider=provider, sha256=upload.sha256, status=Upload.Status.DONE)
        .order_by("created_at")
        .first()
    )
    if same is not None:
        upload.file.name = same.file.name
        upload.status = Upload.Status.DONE
        upload.progress = 100
        upload.rows = same.rows
        upload.batch_ids = same.batch_ids
        upload.counts = {**same.counts, "new_lines": 0, "same_file_as": same.pk}
        upload.finished_at = now
        upload.save()
        return upload
    upload.file.save(name, File(stream, name=name), save=False)
    upload.save()
    return upload


def _mapping(provider: str) -> ColumnMapping | None:
    if provider not in ("generic", "bank_csv"):
        return None
    found = ProviderSettings.objects.filter(provider=provider).first()
    if found is None or not found.column_mapping:
        return None
    return ColumnMapping(
        columns=found.column_mapping,
        date_format=found.date_format,
        decimal_separator=found.decimal_separator,
        sign_convention=found.sign_convention,
        delimiter=found.delimiter,
        currency=found.currency,
    )


class _Counter:
    """The raw file's position, for progress, as the parser pulls bytes through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw

    @property
    def position(self) -> int:
        return self.raw.tell()


def _beat(upload: Upload, **fields: Any) -> None:
    fields["heartbeat_at"] = timezone.now()
    Upload.objects.filter(pk=upload.pk).update(**fields)
    for name, value in fields.items():
        setattr(upload, name, value)


def _until(source: Iterator[ParsedLine], stream: IO[bytes], position: int) -> Iterator[ParsedLine]:
    """The next lines of `source`, at least one, until the file is read past `position`
    (looked at every `_LOOK` lines: the parser reads the file a buffer at a time anyway)."""
    for line in source:
        yield line
        yield from islice(source, _LOOK - 1)
        if stream.tell() >= position:
            return


def _read(upload: Upload, stream: IO[bytes]) -> tuple[dict[str, ParsedBatch], dict[str, int]]:
    """Parse and stage the whole file, a tenth of it per `COPY` (streamed: nothing held but the
    row in hand, so the statements and progress steps are as many at any size); the batches
    it announced and the lines read of each (by batch key)."""
    parse = PARSERS[upload.provider]
    batches: dict[str, ParsedBatch] = {}
    first_currency: dict[str, str] = {}
    counted: Counter[str] = Counter()

    options = _mapping(upload.provider)  # read now: the lines are pulled inside a COPY

    def lines() -> Iterator[ParsedLine]:
        key: str | None = None  # lines of one batch come together: counted as a run
        count = 0
        for record in parse(stream, options=options):
            if isinstance(record, ParsedBatch):
                batches[record.key] = record
                continue
            if record.batch_key != key:
                if key is not None:
                    counted[key] += count
                key, count = record.batch_key, 0
                first_currency.setdefault(key, record.currency)
            count += 1
            yield record
        if key is not None:
            counted[key] += count

    source, staged = lines(), 0
    part = max(upload.size // PARTS, 1)
    while written := staging_write(staged, _until(source, stream, stream.tell() + part)):
        staged += written
        done = stream.tell() * 90 // max(upload.size, 1)
        _beat(upload, progress=min(done, 90), rows=staged)
    for key in first_currency.keys() - batches.keys():  # a batch the file never described
        batches[key] = ParsedBatch(key=key, currency=first_currency[key])
    return batches, dict(counted)


def _all_new(upload: Upload, kept: list[SettlementBatch]) -> bool:
    """Every batch of the file is new (no line kept, never matched): matched while staged.
    Otherwise (a batch an earlier file began, a bank statement, the demo's SQLite) the lines
    are kept first and the batches matched over them, as a re-run is."""
    return (
        connection.vendor == "postgresql"
        and upload.provider not in BANK_FORMATS
        and all(b.matched_at is None for b in kept)
        and not SettlementLine.objects.filter(batch__in=kept).exists()
    )


def upload_process(upload_id: int, *, now: datetime | None = None) -> Upload:
    """Read, keep and match one upload (the Celery task's body)."""
    from .matching import batches_match  # the rules need the batches kept first

    upload = Upload.objects.get(pk=upload_id)
    if upload.status in (Upload.Status.DONE, Upload.Status.FAILED):
        return upload
    now = now or timezone.now()
    if upload.attempts >= READ_ATTEMPTS:
        stopped = ParseError(
            0,
            f"reading it was begun {upload.attempts} times and stopped each time before the end"
            " (the worker was stopped or ran out of memory); nothing kept",
        )
        return _failed(upload, stopped, now=now)
    _beat(upload, status=Upload.Status.PARSING, progress=0, attempts=upload.attempts + 1)
    started = time.perf_counter()
    staging_create()
    fresh = False
    try:
        with upload.file.open("rb") as stream:
            batches, counted = _read(upload, stream)
        rows = sum(counted.values())
        if not rows and not batches:
            raise ParseError(0, "the file has no records")
        read = time.perf_counter()
        with transaction.atomic():
            kept = batches_save(upload, list(batches.values()), now=now)
            fresh = _all_new(upload, kept)
            staged: dict[int, int] = {}
            if fresh:  # their lines go in as they are matched, each written once
                fresh_create(kept)
                staged = {b.pk: counted.get(b.key, 0) for b in kept}
                new_lines = rows
            else:
                new_lines = lines_commit(upload.provider)
                batches_totals([b.pk for b in kept])
    except ParseError as problem:
        staging_drop()
        return _failed(upload, problem, now=now)
    except DataError as problem:  # a value the database cannot hold: found again, by its row
        staging_drop()
        return _failed(upload, _beyond(upload, problem), now=now)
    except UnicodeDecodeError as problem:
        staging_drop()
        return _failed(upload, ParseError(0, f"not the file's encoding: {problem}"), now=now)
    except (csv.Error, ValueError, ArithmeticError, LookupError, SyntaxError) as problem:
        # A parser that met something it has no words for: still the file's fault, not a
        # reason to leave the upload hanging. Logged with its trace for whoever owns the parser.
        staging_drop()
        logger.exception("%s parser failed on upload %s", upload.provider, upload.pk)
        return _failed(upload, ParseError(0, f"the file could not be read: {problem}"), now=now)
    if not fresh:
        staging_drop()
    if new_lines > ANALYZE_AFTER and not fresh:
        analyze(SettlementLine._meta.db_table)
    ids = [b.pk for b in kept]
    kept_at = time.perf_counter()
    _beat(upload, status=Upload.Status.MATCHING, progress=90, rows=rows, batch_ids=ids)
    try:
        counts = batches_match(
            ids, now=now, source=FRESH if fresh else SettlementLine._meta.db_table, staged=staged
        )
    finally:
        fresh_drop()
        staging_drop()
    if fresh:  # what went in: the batches were new, every line of theirs is
        new_lines = counts["lines"]
    seconds = {
        "read": round(read - started, 3),
        "keep": round(kept_at - read, 3),
        "match": round(time.perf_counter() - kept_at, 3),
    }
    upload.counts = {
        "rows": rows,
        "new_lines": new_lines,
        "batches": len(ids),
        **counts,
        "seconds": seconds,
    }
    _beat(
        upload,
        status=Upload.Status.DONE,
        progress=100,
        counts=upload.counts,
        finished_at=timezone.now(),
    )
    if fresh and new_lines > ANALYZE_AFTER:  # for the next upload's plans, once this one is done
        analyze(SettlementLine._meta.db_table)
    return upload


AMOUNT_LIMIT = Decimal(10) ** 15  # an amount's 19 digits, 4 of them after the point


def _beyond(upload: Upload, problem: DataError) -> ParseError:
    """The first amount of the file too large to keep, which the database refused as it was
    staged (or saved, a batch's): the file is read again to name its row."""
    options = _mapping(upload.provider)
    with upload.file.open("rb") as stream:
        for record in PARSERS[upload.provider](stream, options=options):
            if isinstance(record, ParsedBatch):
                named = [
                    (f"{record.key}: {name}", 0, getattr(record, name))
                    for name in ("payout_amount", "opening_balance", "closing_balance")
                ]
            else:
                named = [
                    (name, record.row, getattr(record, name)) for name in ("gross", "fee", "net")
                ]
            for name, row, value in named:
                if value is not None and abs(value) >= AMOUNT_LIMIT:
                    return ParseError(row, f"{name}: {value} is larger than an amount can be")
    return ParseError(0, f"the file could not be kept: {str(problem).splitlines()[0]}")


def _failed(upload: Upload, problem: ParseError, *, now: datetime) -> Upload:
    errors = [{"row": problem.row, "reason": problem.reason}]
    _beat(upload, status=Upload.Status.FAILED, errors=errors, finished_at=timezone.now())
    kind = "bank statement" if upload.provider in BANK_FORMATS else "settlement file"
    exception_raise(
        kind="settlement_file_refused",
        reason=f"The {kind} {upload.name} ({upload.provider}) was refused, nothing kept: {problem}",
        details={"upload": upload.pk, "errors": errors},
        object_type="settlement_upload",
        object_id=upload.pk,
        object_label=upload.name,
        channel=upload.channel,
        dedupe_key=f"settlement_upload:{upload.sha256}",
        correlation_id=upload.correlation_id,
        now=now,
    )
    return upload


def uploads_stale(*, now: datetime) -> Iterator[int]:
    """Uploads whose worker went away mid-file (or whose publish was lost): to pick up again."""
    cutoff = now - STALE_AFTER
    yield from Upload.objects.filter(
        status__in=[Upload.Status.PARSING, Upload.Status.MATCHING], heartbeat_at__lt=cutoff
    ).values_list("pk", flat=True)
    yield from Upload.objects.filter(
        status=Upload.Status.QUEUED, created_at__lt=cutoff
    ).values_list("pk", flat=True)
