"""The exception queue's filters: the API's (query parameters, any text) and the workbench
page's (the same, offered as choices, with a search and a date range); and the API's boolean
query parameter, for every list that has one."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import Channel, ExceptionItem
from .registry import objects_named, reasons_by_domain
from .selectors import AGING_BUCKETS, age_bucket_filter
from .sla import overdue_q

ME, UNASSIGNED = "me", "unassigned"


class _TrueOrFalse(forms.NullBooleanField):
    """`true` or `false` (`1`, `0`; absent or empty: not filtered), else a 400 naming the
    parameter: django-filter's own reads any other word as "not given" and lists everything."""

    widget = forms.TextInput

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]  # None: not given
        text = str(value).strip().lower() if value is not None else ""
        if text in ("", "unknown"):
            return None
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise forms.ValidationError("must be true or false")


class BooleanFilter(django_filters.BooleanFilter):  # type: ignore[misc]  # no types shipped
    field_class = _TrueOrFalse


def date_bound(field_name: str, lookup: str, label: str) -> django_filters.DateFilter:
    """One end of a date range (`gte` or `lte`), on the day in the site's time zone, picked
    with the browser's date input."""
    return django_filters.DateFilter(
        field_name=field_name,
        lookup_expr=f"date__{lookup}",
        label=label,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class ExceptionFilter(django_filters.FilterSet):  # type: ignore[misc]  # no types shipped
    status = django_filters.ChoiceFilter(choices=ExceptionItem.Status.choices)
    kind = django_filters.CharFilter(label="Kind")
    channel = django_filters.CharFilter(field_name="channel__code", label="Channel")
    age = django_filters.ChoiceFilter(
        choices=[(name, name) for name, _, _ in AGING_BUCKETS], method="filter_age", label="Age"
    )
    owner = django_filters.CharFilter(
        method="filter_owner",
        label="Owner",
        help_text="`me`, `unassigned`, or a username.",
    )
    overdue = BooleanFilter(
        method="filter_overdue", label="Overdue", help_text="Open past its kind's SLA."
    )

    class Meta:
        model = ExceptionItem
        fields = ["status", "kind", "channel", "age", "owner", "overdue"]

    def filter_age(self, queryset: QuerySet[ExceptionItem], name: str, value: str) -> Any:
        return queryset.filter(age_bucket_filter(value, timezone.now()))

    def filter_owner(self, queryset: QuerySet[ExceptionItem], name: str, value: str) -> Any:
        if value == ME:
            user = getattr(self.request, "user", None)
            return queryset.filter(owner_id=getattr(user, "pk", None)) if user else queryset.none()
        if value == UNASSIGNED:
            return queryset.filter(owner__isnull=True)
        return queryset.filter(owner__username=value)

    def filter_overdue(self, queryset: QuerySet[ExceptionItem], name: str, value: bool) -> Any:
        late = overdue_q(timezone.now())
        return queryset.filter(late) if value else queryset.exclude(late)


def kind_choices() -> list[tuple[str, str]]:
    """Every kind an app registered, by domain, and any other kind found in the queue."""
    registered = reasons_by_domain()
    known = {kind for kinds in registered.values() for kind in kinds}
    found = set(ExceptionItem.objects.values_list("kind", flat=True).distinct()) - known
    choices: list[Any] = [
        (domain, [(kind, kind) for kind in sorted(kinds)]) for domain, kinds in registered.items()
    ]
    if found:
        choices.append(("other", [(kind, kind) for kind in sorted(found)]))
    return choices


def channel_choices() -> list[tuple[str, str]]:
    return [(c, c) for c in Channel.objects.order_by("code").values_list("code", flat=True)]


def owner_choices() -> list[tuple[str, str]]:
    people = (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .order_by("username")
        .values_list("username", flat=True)
    )
    return [(ME, "me"), (UNASSIGNED, "nobody (unassigned)"), *[(u, u) for u in people]]


class ExceptionPageFilter(ExceptionFilter):
    """The workbench's filters, as choices; `q` finds an exception by its number, its text or
    what it concerns (`WS-6018`, `RMA-4`, a payout id)."""

    q = django_filters.CharFilter(method="filter_search", label="Search")
    status = django_filters.ChoiceFilter(
        choices=ExceptionItem.Status.choices, label="Status", empty_label="any"
    )
    age = django_filters.ChoiceFilter(
        choices=[(name, name) for name, _, _ in AGING_BUCKETS],
        method="filter_age",
        label="Age",
        empty_label="any",
    )
    kind = django_filters.ChoiceFilter(choices=kind_choices, label="Kind", empty_label="any")
    channel = django_filters.ChoiceFilter(
        field_name="channel__code", choices=channel_choices, label="Channel", empty_label="any"
    )
    owner = django_filters.ChoiceFilter(
        choices=owner_choices, method="filter_owner", label="Owner", empty_label="anyone"
    )
    overdue = django_filters.ChoiceFilter(
        choices=[("true", "overdue only"), ("false", "within SLA")],
        method="filter_overdue_choice",
        label="SLA",
        empty_label="any",
    )
    raised_from = date_bound("created_at", "gte", "Raised from")
    raised_to = date_bound("created_at", "lte", "Raised to")

    class Meta(ExceptionFilter.Meta):
        fields = [
            "q",
            "status",
            "kind",
            "channel",
            "owner",
            "overdue",
            "age",
            "raised_from",
            "raised_to",
        ]

    def filter_overdue_choice(
        self, queryset: QuerySet[ExceptionItem], name: str, value: str
    ) -> Any:
        return self.filter_overdue(queryset, name, value == "true")

    def filter_search(self, queryset: QuerySet[ExceptionItem], name: str, value: str) -> Any:
        value = value.strip()
        found = (
            Q(object_label__icontains=value)
            | Q(reason__icontains=value)
            | Q(object_id=value)
            | Q(correlation_id=value)
        )
        for object_type, ids in objects_named(value).items():
            found |= Q(object_type=object_type, object_id__in=ids)
        number = value.lstrip("#")
        if number.isdigit() and len(number) < 19:
            found |= Q(pk=int(number))
        return queryset.filter(found)
