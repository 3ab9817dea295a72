"""Returns as people know them: `RMA-4`, at /returns/4/; found by that name or the channel's
refund id."""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.urls import reverse

from retailsync.core.registry import (
    ObjectLink,
    register_object_link,
    register_object_search,
    register_reasons,
)

from .models import Return

REASONS = {
    "refund_mismatch": "a channel refunded another amount than the order's figures give",
    "refund_rejected": "a channel's refund message was refused",
}
RMA = re.compile(r"(?i)^\s*rma-?(\d{1,18})\s*$")


def rma(pk: int) -> str:
    return f"RMA-{pk}"


def returns_linked(ids: Sequence[str]) -> dict[str, ObjectLink]:
    wanted = [int(i) for i in ids if i.isdigit() and len(i) < 19]
    return {
        str(pk): ObjectLink(reverse("return-detail-page", args=[pk]), rma(pk))
        for pk in Return.objects.filter(pk__in=wanted).values_list("pk", flat=True)
    }


def returns_named(text: str) -> list[str]:
    """`RMA-4` (any case, with or without the dash), or the channel's refund id."""
    found = RMA.match(text)
    if found:
        return [found.group(1)] if Return.objects.filter(pk=int(found.group(1))).exists() else []
    text = text.strip()
    if not text:
        return []
    return [str(pk) for pk in Return.objects.filter(external_id=text).values_list("pk", flat=True)]


def register() -> None:
    register_reasons("returns", REASONS)
    register_object_link("return", returns_linked)
    register_object_search("return", returns_named)
