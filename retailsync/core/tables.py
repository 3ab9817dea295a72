"""The back office's lists: one django-tables2 table per list gives the page (sortable
columns, pages of rows) and its export (CSV, XLSX) from the same columns and the same filtered
rows, so a file holds exactly what the person filtered, in the order they sorted it.

Exports go through tablib and the project's formula-safe formats (`exports.SafeCSV`,
`exports.SafeXLSX`): a cell that would run as a formula is quoted; amounts stay numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import django_tables2 as tables
from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django_tables2.export import TableExport

from .exports import SafeCSV, SafeXLSX
from .guards import refused
from .templatetags.display import amount, local, rounded, when, words

EXPORT_FORMATS: dict[str, type[SafeCSV] | type[SafeXLSX]] = {"csv": SafeCSV, "xlsx": SafeXLSX}
PER_PAGE = 50


class MoneyColumn(tables.Column):  # type: ignore[misc]  # django-tables2 has no types
    """An amount shown with its currency (`$1,377.30`), exported as a number at the currency's
    minor unit (the currency has its own column in the file)."""

    def __init__(self, *args: Any, currency: str = "currency", **kwargs: Any) -> None:
        self.currency_accessor = tables.A(currency)
        attrs = kwargs.pop("attrs", {"th": {"class": "num"}, "td": {"class": "num"}})
        super().__init__(*args, attrs=attrs, **kwargs)

    def _currency(self, record: Any) -> str:
        return str(self.currency_accessor.resolve(record, quiet=True) or "")

    def render(self, value: Any, record: Any) -> str:
        return amount(value, self._currency(record))

    def value(self, value: Any, record: Any) -> Decimal | None:
        return rounded(value, self._currency(record))


class WhenColumn(tables.Column):  # type: ignore[misc]
    """A moment in the site's time zone, to the minute on the page; to the second (a naive
    local time, which spreadsheets read as a date) in the file."""

    def render(self, value: datetime) -> str:
        return format_html('<span title="{}">{}</span>', value.isoformat(), when(value))

    def value(self, value: datetime | None) -> datetime | None:
        shown = local(value)
        return shown.replace(tzinfo=None) if shown else None


class WordsColumn(tables.Column):  # type: ignore[misc]
    """A status or code in words, in a pill on the page (its code the pill's class). The raw
    code, not the field's choice label, so every status reads the same way everywhere."""

    def _code(self, record: Any, bound_column: Any) -> str:
        return str(bound_column.accessor.resolve(record, quiet=True) or "")

    def render(self, record: Any, bound_column: Any) -> str:
        code = self._code(record, bound_column)
        return format_html('<span class="pill {}">{}</span>', code, words(code))

    def value(self, record: Any, bound_column: Any) -> str:
        return words(self._code(record, bound_column))


class SelectColumn(tables.CheckBoxColumn):  # type: ignore[misc]
    """A row's checkbox for the bulk form `form` (outside the table: forms do not nest),
    posting the record's id as `pk`; never exported."""

    def __init__(self, *, form: str, **kwargs: Any) -> None:
        attrs = {
            "td__input": {
                "form": form,
                "name": "pk",
                "aria-label": lambda record: f"Select #{record.pk}",
            }
        }
        super().__init__(accessor="pk", attrs=attrs, exclude_from_export=True, **kwargs)

    @property
    def header(self) -> str:
        return "Select"


@dataclass
class Listing:
    table: tables.Table
    filter: Any  # the FilterSet, for its form
    query: str  # the request's parameters without page and export: for links that keep them


def listing(
    request: HttpRequest,
    *,
    filtered: Any,
    table_class: type[tables.Table],
    filename: str,
    per_page: int = PER_PAGE,
    **table_kwargs: Any,
) -> Listing | HttpResponse:
    """The page of the filtered, sorted rows; or, with `?export=csv|xlsx`, all of them as a
    file. A filter value that is not one of its choices selects nothing (the form says why)."""
    rows: QuerySet[Any] = filtered.qs if filtered.is_valid() else filtered.queryset.none()
    export = request.GET.get("export", "")
    table = table_class(rows, request=request, **table_kwargs)
    if export:
        if export not in EXPORT_FORMATS:
            return refused(request, 400, "export must be csv or xlsx", field="export")
        limit = settings.RETAILSYNC_EXPORT_MAX_ROWS
        if rows.count() > limit:
            return refused(
                request, 400, f"more than {limit:,} rows: narrow the filters before exporting"
            )
        tables.RequestConfig(request, paginate=False).configure(table)
        response: HttpResponse = SafeTableExport(export, table).response(f"{filename}.{export}")
        return response
    tables.RequestConfig(request, paginate={"per_page": per_page}).configure(table)
    params = request.GET.copy()
    for name in ("page", "export"):
        params.pop(name, None)
    return Listing(table=table, filter=filtered, query=params.urlencode())


class SafeTableExport(TableExport):  # type: ignore[misc]
    """django-tables2's export of a table's values (columns marked `exclude_from_export`, the
    row checkboxes, left out), written by the formula-safe formats."""

    def export(self) -> Any:
        return EXPORT_FORMATS[self.format]().export_data(self.dataset)
