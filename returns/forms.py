"""The return pages' forms. Every number a person types is parsed and bounded here, so what is
not a whole number is a form error, never a 500 (issue 8); the rules of the lifecycle stay in
the services, whose refusals the pages show beside the form."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django import forms

from inventory.models import Location

from . import services
from .models import Return, ReturnLine
from .selectors import waiting_at


def _location_choices(locations: Iterable[Location], blank: str) -> list[tuple[str, str]]:
    return [
        ("", blank),
        *(
            (
                loc.code,
                " · ".join(dict.fromkeys([loc.code, loc.get_kind_display(), loc.name or loc.code])),
            )
            for loc in locations
        ),
    ]


class ReceiveForm(forms.Form):
    location = forms.ChoiceField(label="Received at")

    def __init__(
        self,
        *args: Any,
        lines: Sequence[ReturnLine],
        locations: Iterable[Location],
        start_at: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        location = self.fields["location"]
        assert isinstance(location, forms.ChoiceField)
        location.choices = _location_choices(locations, "— choose where —")
        location.initial = start_at
        self.rows: list[tuple[ReturnLine, int, str]] = []
        for line in lines:
            expected = line.quantity - line.received
            if expected > 0:
                name = f"quantity-{line.pk}"
                self.fields[name] = forms.IntegerField(
                    min_value=0, max_value=expected, required=False, initial=expected
                )
                self.rows.append((line, expected, name))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and not any(data.get(name) for _, _, name in self.rows):
            raise forms.ValidationError(
                "Nothing to receive: enter how many units of each line arrived."
            )
        return data

    def bound_rows(self) -> list[tuple[ReturnLine, int, forms.BoundField]]:
        return [(line, expected, self[name]) for line, expected, name in self.rows]

    def parcel(self) -> list[services.ReceiptLine]:
        return [
            services.ReceiptLine(n, line.order_line_id)
            for line, _, name in self.rows
            if (n := self.cleaned_data.get(name))
        ]


class InspectForm(forms.Form):
    location = forms.ChoiceField(label="Inspected at", required=False)

    def __init__(self, *args: Any, lines: Sequence[ReturnLine], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        places = {
            r.location.code: r.location for line in lines for r in line.receipts.all() if r.waiting
        }
        location = self.fields["location"]
        assert isinstance(location, forms.ChoiceField)
        location.choices = _location_choices(places.values(), "where each line was received")
        self.rows: list[tuple[ReturnLine, list[str]]] = []
        for line in lines:
            if line.waiting > 0:
                names = [f"{kind}-{line.pk}" for kind in services.DISPOSITIONS]
                for name in names:
                    self.fields[name] = forms.IntegerField(
                        min_value=0, max_value=line.waiting, required=False
                    )
                self.rows.append((line, names))

    def bound_rows(self) -> list[tuple[ReturnLine, str, list[tuple[str, forms.BoundField]]]]:
        """Each line waiting, where its units wait, and its field per disposition."""
        return [
            (
                line,
                waiting_at(line),
                [(k, self[name]) for k, name in zip(services.DISPOSITIONS, names, strict=True)],
            )
            for line, names in self.rows
        ]

    def decisions(self) -> list[services.Disposition]:
        return [
            services.Disposition.of(
                {
                    k: self.cleaned_data.get(name)
                    for k, name in zip(services.DISPOSITIONS, names, strict=True)
                },
                line_id=line.order_line_id,
            )
            for line, names in self.rows
        ]


class RefundForm(forms.Form):
    method = forms.ChoiceField(label="Refund to", choices=Return.Method.choices)
    expected_amount = forms.DecimalField(max_digits=19, decimal_places=4, widget=forms.HiddenInput)


class NoteForm(forms.Form):
    note = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 50, "required": True}),
        error_messages={"required": "Say why: the note is required."},
    )
