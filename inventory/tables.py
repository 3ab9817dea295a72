"""The stock ledger as a list (page and export): every movement, found by SKU or by the order
it was for (`WS-6018`), filtered by location, reason and date; its references named as people
know them (an order by its number, a shipment with its order's)."""

from __future__ import annotations

from typing import Any

import django_filters
import django_tables2 as tables
from django.db.models import Q, QuerySet
from django.utils.html import format_html

from retailsync.core.filters import date_bound
from retailsync.core.registry import ObjectLink, object_links, objects_named
from retailsync.core.tables import WhenColumn, WordsColumn

from .models import Location, StockMovement


def location_choices() -> list[tuple[str, str]]:
    return [(c, c) for c in Location.objects.order_by("code").values_list("code", flat=True)]


def reason_choices() -> list[tuple[str, str]]:
    reasons = StockMovement.objects.order_by("reason").values_list("reason", flat=True).distinct()
    return [(r, r.replace("_", " ")) for r in reasons]


class LedgerFilter(django_filters.FilterSet):  # type: ignore[misc]  # untyped
    q = django_filters.CharFilter(method="search", label="SKU, order number or event id")
    location = django_filters.ChoiceFilter(
        field_name="location__code", choices=location_choices, label="Location", empty_label="any"
    )
    reason = django_filters.ChoiceFilter(choices=reason_choices, label="Reason", empty_label="any")
    occurred_from = date_bound("occurred_at", "gte", "Occurred from")
    occurred_to = date_bound("occurred_at", "lte", "Occurred to")

    class Meta:
        model = StockMovement
        fields = ["q", "location", "reason", "occurred_from", "occurred_to"]

    def search(
        self, queryset: QuerySet[StockMovement], name: str, value: str
    ) -> QuerySet[StockMovement]:
        text = value.strip()
        found = Q(item__sku__iexact=text) | Q(source_event_id=text)
        for object_type, ids in objects_named(text).items():
            found |= Q(reference_type=object_type, reference_id__in=ids)
        return queryset.filter(found)


def signed(value: int) -> str:
    return f"{value:+d}" if value else "0"


class LedgerTable(tables.Table):  # type: ignore[misc]  # django-tables2 has no types
    recorded_at = WhenColumn(verbose_name="Recorded")
    occurred_at = WhenColumn(verbose_name="Occurred")
    sku = tables.Column(accessor="item__sku", verbose_name="SKU")
    location = tables.Column(accessor="location__code", verbose_name="Location")
    reason = WordsColumn(verbose_name="Reason")
    on_hand = tables.Column(verbose_name="On hand", attrs={"td": {"class": "num"}})
    reserved = tables.Column(verbose_name="Reserved", attrs={"td": {"class": "num"}})
    damaged = tables.Column(verbose_name="Damaged", attrs={"td": {"class": "num"}})
    quality_hold = tables.Column(verbose_name="Hold", attrs={"td": {"class": "num"}})
    in_transit = tables.Column(verbose_name="Transit", attrs={"td": {"class": "num"}})
    source = tables.Column(verbose_name="Source", default="", orderable=False)
    reference = tables.Column(
        accessor="reference_id", verbose_name="Reference", default="", orderable=False
    )

    class Meta:
        model = StockMovement
        fields: list[str] = []
        sequence = (
            "recorded_at",
            "occurred_at",
            "sku",
            "location",
            "reason",
            "on_hand",
            "reserved",
            "damaged",
            "quality_hold",
            "in_transit",
            "source",
            "reference",
        )
        attrs = {"id": "ledger"}
        empty_text = "No movements."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._links: dict[tuple[str, str], ObjectLink] | None = None

    def link(self, record: StockMovement) -> ObjectLink | None:
        if self._links is None:  # the shown rows' references, one query per type
            rows = self.page.object_list if self.page else self.rows
            self._links = object_links(
                (r.record.reference_type, r.record.reference_id) for r in rows
            )
        return self._links.get((record.reference_type, record.reference_id))

    def render_on_hand(self, value: int) -> str:
        return signed(value)

    def render_reserved(self, value: int) -> str:
        return signed(value)

    def render_damaged(self, value: int) -> str:
        return signed(value)

    def render_quality_hold(self, value: int) -> str:
        return signed(value)

    def render_in_transit(self, value: int) -> str:
        return signed(value)

    def value_on_hand(self, value: int) -> int:
        return value

    def value_reserved(self, value: int) -> int:
        return value

    def value_damaged(self, value: int) -> int:
        return value

    def value_quality_hold(self, value: int) -> int:
        return value

    def value_in_transit(self, value: int) -> int:
        return value

    def render_sku(self, value: str) -> Any:
        return format_html('<a href="/stock/{}/">{}</a>', value, value)

    def value_sku(self, value: str) -> str:
        return value

    def render_source(self, record: StockMovement) -> str:
        return f"{record.source} {record.source_event_id}".strip()

    def render_reference(self, record: StockMovement) -> Any:
        link = self.link(record)
        trace = format_html(' <a href="/trace/{}/">trace</a>', record.correlation_id)
        if link is not None:
            return format_html('<a href="{}" data-object>{}</a>{}', link.url, link.label, trace)
        said = f"{record.reference_type} {record.reference_id}".strip()
        return format_html("{}{}", said, trace)

    def value_reference(self, record: StockMovement) -> str:
        link = self.link(record)
        return link.label if link else f"{record.reference_type} {record.reference_id}".strip()
