"""Journal records as finance knows them, for the exception queue and the trace: an entry by
its number (or its id while a draft has none), on its page; and journals' reason codes in words."""

from __future__ import annotations

from collections.abc import Sequence

from django.urls import reverse

from retailsync.core.registry import ObjectLink, register_object_link, register_reasons

from .models import JournalEntry
from .services.delivery import FAILED
from .services.mapping import UNMAPPED

REASONS = {
    UNMAPPED: "a posting has no account mapped in the chart: map it, then post",
    FAILED: "the ERP refused or did not take a journal entry: fix and post again",
}


def entries_linked(ids: Sequence[str]) -> dict[str, ObjectLink]:
    wanted = [int(i) for i in ids if i.isdigit() and len(i) < 19]
    return {
        str(pk): ObjectLink(
            reverse("journal-entry-page", args=[pk]), f"journal {number or f'draft {pk}'}"
        )
        for pk, number in JournalEntry.objects.filter(pk__in=wanted).values_list("pk", "number")
    }


def links_register() -> None:
    register_object_link("journal_entry", entries_linked)
    register_reasons("journals", REASONS)
