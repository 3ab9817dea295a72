"""Settlement records as finance knows them, for the exception queue and the trace: a batch
by its provider and payout id, a line by its row in that payout, an upload by its file name.
Found in the queue by the payout id."""

from __future__ import annotations

from collections.abc import Sequence

from django.urls import reverse

from retailsync.core.registry import (
    ObjectLink,
    register_object_link,
    register_object_search,
    register_reasons,
)

from .matching.exceptions import REASONS
from .models import Provider, SettlementBatch, SettlementLine, Upload

FILE_REASONS = {"settlement_file_refused": "a settlement file or bank statement was refused"}
PROVIDERS = dict(Provider.choices)


def _ids(ids: Sequence[str]) -> list[int]:
    return [int(i) for i in ids if i.isdigit() and len(i) < 19]


def payout_name(provider: str, key: str, is_statement: bool = False) -> str:
    what = "statement" if is_statement else "payout"
    return f"{PROVIDERS.get(provider, provider)} {what} {key}"


def batches_linked(ids: Sequence[str]) -> dict[str, ObjectLink]:
    rows = SettlementBatch.objects.filter(pk__in=_ids(ids)).values_list(
        "pk", "provider", "key", "is_statement"
    )
    return {
        str(pk): ObjectLink(
            reverse("settlement-batch-page", args=[pk]), payout_name(provider, key, statement)
        )
        for pk, provider, key, statement in rows
    }


def lines_linked(ids: Sequence[str]) -> dict[str, ObjectLink]:
    rows = SettlementLine.objects.filter(pk__in=_ids(ids)).values_list(
        "pk", "row", "batch__provider", "batch__key", "batch__is_statement"
    )
    return {
        str(pk): ObjectLink(
            reverse("settlement-line-page", args=[pk]),
            f"line {row} of {payout_name(provider, key, statement)}",
        )
        for pk, row, provider, key, statement in rows
    }


def uploads_linked(ids: Sequence[str]) -> dict[str, ObjectLink]:
    rows = Upload.objects.filter(pk__in=_ids(ids)).values_list("pk", "name")
    return {
        str(pk): ObjectLink(reverse("settlement-upload-status", args=[pk]), name)
        for pk, name in rows
    }


def batches_named(text: str) -> list[str]:
    text = text.strip()
    if not text:
        return []
    found = SettlementBatch.objects.filter(key=text).values_list("pk", flat=True)[:200]
    return [str(pk) for pk in found]


def register() -> None:
    register_reasons("settlements", {**REASONS, **FILE_REASONS})
    register_object_link("settlement_batch", batches_linked)
    register_object_link("settlement_line", lines_linked)
    register_object_link("settlement_upload", uploads_linked)
    register_object_search("settlement_batch", batches_named)
