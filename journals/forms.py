"""The journal pages' filters and forms: every filter is a choice among what exists (the API's
take any text), so a value that is not one is a form error beside the list, never a 500 nor a
silently unfiltered list."""

from __future__ import annotations

import django_filters
from django import forms

from retailsync.core.models import Channel, LegalEntity

from .models import AccountingPeriod, JournalEntry
from .selectors import EntryFilter


def legal_entity_choices() -> list[tuple[str, str]]:
    return [
        (code, f"{code} {name}")
        for code, name in LegalEntity.objects.order_by("code").values_list("code", "name")
    ]


def channel_choices() -> list[tuple[str, str]]:
    return [(c, c) for c in Channel.objects.order_by("code").values_list("code", flat=True)]


def period_choices() -> list[tuple[str, str]]:
    """Months that have a period row (every entry has one), newest first."""
    months = AccountingPeriod.objects.order_by("-period").values_list("period", flat=True)
    return [(m, m) for m in dict.fromkeys(months)]


def currency_choices() -> list[tuple[str, str]]:
    found = JournalEntry.objects.order_by("currency").values_list("currency", flat=True)
    return [(c, c) for c in found.distinct()]


class EntryPageFilter(EntryFilter):
    legal_entity = django_filters.ChoiceFilter(
        field_name="legal_entity__code",
        choices=legal_entity_choices,
        label="Legal entity",
        empty_label="any",
    )
    channel = django_filters.ChoiceFilter(
        field_name="channel__code", choices=channel_choices, label="Channel", empty_label="any"
    )
    status = django_filters.ChoiceFilter(
        choices=JournalEntry.Status.choices, label="Status", empty_label="any"
    )
    period = django_filters.ChoiceFilter(
        field_name="period__period", choices=period_choices, label="Period", empty_label="any"
    )
    currency = django_filters.ChoiceFilter(
        choices=currency_choices, label="Currency", empty_label="any"
    )

    class Meta(EntryFilter.Meta):
        fields = ["legal_entity", "channel", "status", "period", "currency"]


class ReverseForm(forms.Form):
    note = forms.CharField(label="Why (optional)", required=False, max_length=500)
    posting_date = forms.DateField(
        label="Posting date (optional)",
        required=False,
        help_text="Blank: the entry's own date (a locked period takes reversals).",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
