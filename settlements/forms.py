"""The settlement pages' forms and filters: what a person may type or choose is bounded here
(choices, sizes, a write-off's reason), so a bad value is a form error beside its field, never a
500; what the money rules refuse comes back from the services and is shown the same way."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from retailsync.core.models import Channel

from .models import Outcome, Provider, SettlementBatch, channel_refused
from .parsers.base import LineKind
from .selectors import BatchFilter, LineFilter


def channel_choices() -> list[tuple[str, str]]:
    """Every channel by code, read when the form is built (a new channel shows at once)."""
    return [
        (code, code) for code in Channel.objects.order_by("code").values_list("code", flat=True)
    ]


def described(form: forms.Form) -> None:
    """Tie each field to its help text and errors (`id_<name>-help`, `id_<name>-error` in the
    templates), so a screen reader reads them with the field."""
    for name, field in form.fields.items():
        ids = [f"id_{name}-help"] if field.help_text else []
        if form.is_bound and name in form.errors:
            ids.append(f"id_{name}-error")
            field.widget.attrs["aria-invalid"] = "true"
        if ids:
            field.widget.attrs["aria-describedby"] = " ".join(ids)


class UploadForm(forms.Form):
    file = forms.FileField(label="Settlement or bank statement file")
    provider = forms.ChoiceField(
        label="Provider or format", choices=[("", "— choose —"), *Provider.choices]
    )
    channel = forms.ChoiceField(
        label="Channel (optional)",
        required=False,
        help_text="Which channel's orders the file pays; blank: the provider's configured one.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        channel = self.fields["channel"]
        assert isinstance(channel, forms.ChoiceField)
        channel.choices = [("", "— the provider's default —"), *channel_choices()]
        described(self)

    def too_large(self) -> bool:
        return any(e.code == "too_large" for e in self.errors.as_data().get("file", []))

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        limit = settings.SETTLEMENT_UPLOAD_MAX_BYTES
        if (upload.size or 0) > limit:
            raise forms.ValidationError(
                f"The file is {upload.size} bytes, over the limit of {limit}.", code="too_large"
            )
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if refused := channel_refused(data.get("provider", ""), data.get("channel", "")):
            self.add_error("channel", refused)
        return data

    def channel_chosen(self) -> Channel | None:
        code = self.cleaned_data.get("channel")
        return Channel.objects.filter(code=code).first() if code else None


class BatchPageFilter(BatchFilter):
    """The batch list's filters as choices (the API's take any text)."""

    provider = django_filters.ChoiceFilter(
        choices=Provider.choices, label="Provider", empty_label="any"
    )
    channel = django_filters.ChoiceFilter(
        field_name="channel__code", choices=channel_choices, label="Channel", empty_label="any"
    )
    deposit_status = django_filters.ChoiceFilter(
        choices=SettlementBatch.DepositStatus.choices,
        label="Deposit",
        empty_label="any",
    )

    class Meta(BatchFilter.Meta):
        fields = ["provider", "channel", "deposit_status"]


class LinePageFilter(LineFilter):
    outcome = django_filters.ChoiceFilter(
        choices=Outcome.choices, label="Outcome", empty_label="any"
    )
    kind = django_filters.ChoiceFilter(
        choices=[(k.value, k.value) for k in LineKind], label="Kind", empty_label="any"
    )
    ref = django_filters.CharFilter(method="by_reference", label="Reference")

    class Meta(LineFilter.Meta):
        fields = ["outcome", "kind", "ref"]


class NoteForm(forms.Form):
    note = forms.CharField(label="Note (optional)", required=False, max_length=500)


class WriteOffForm(forms.Form):
    reason = forms.CharField(
        label="Why it is written off",
        max_length=500,
        widget=forms.TextInput(attrs={"size": 40}),
        error_messages={"required": "Say why the line is written off."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        described(self)


class MatchForm(forms.Form):
    order = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    note = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)
