"""`/reconciliation/` (finance and admin): the figures side by side with their variances, each
a link to the records behind it; charts with their numbers; and the same as JSON for the
spreadsheets and BI tools finance already uses (`GET /api/v1/reconciliation/`)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from retailsync.core.models import Channel, ExceptionItem, LegalEntity
from retailsync.core.views import roles_required
from settlements.models import SettlementBatch

from .charts import Series, bar_chart, line_chart
from .figures import (
    FIGURES,
    FLOW,
    Period,
    Scope,
    daily_series,
    figure_records,
    figure_total,
    figures_by_day,
    figures_read,
)

TREND = ("orders", "shipped", "settled_net", "deposited")
AGES = ((1, "under a day"), (3, "1-3 days"), (7, "3-7 days"), (30, "1-4 weeks"), (None, "older"))


class ScopeForm(forms.Form):
    period = forms.RegexField(
        regex=r"^\d{4}-(0[1-9]|1[0-2])$", required=False, label="Month (YYYY-MM)"
    )
    start = forms.DateField(
        required=False, label="or from", widget=forms.DateInput({"type": "date"})
    )
    end = forms.DateField(required=False, label="to", widget=forms.DateInput({"type": "date"}))
    channel = forms.ChoiceField(required=False)
    legal_entity = forms.ChoiceField(required=False, label="Legal entity")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        channel, entity = self.fields["channel"], self.fields["legal_entity"]
        assert isinstance(channel, forms.ChoiceField) and isinstance(entity, forms.ChoiceField)
        channel.choices = [("", "all")] + [
            (c, c) for c in Channel.objects.order_by("code").values_list("code", flat=True)
        ]
        entity.choices = [("", "all")] + [
            (c, c) for c in LegalEntity.objects.order_by("code").values_list("code", flat=True)
        ]

    def scope(self) -> Scope:
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("start") and data.get("end") and data["end"] >= data["start"]:
            period = Period(data["start"], data["end"] + timedelta(days=1))
        else:
            period = Period.month(data.get("period") or timezone.localdate().strftime("%Y-%m"))
        return Scope(period, data.get("channel") or "", data.get("legal_entity") or "")


def _exception_ages() -> dict[str, dict[str, int]]:
    """Open exceptions per kind and age bucket: one aggregate query."""
    now = timezone.now()
    buckets: dict[str, Any] = {}
    lower = None
    for limit, label in AGES:
        window = Q() if lower is None else Q(created_at__lte=now - timedelta(days=lower))
        if limit is not None:
            window &= Q(created_at__gt=now - timedelta(days=limit))
        buckets[label] = Count("pk", filter=window)
        lower = limit
    rows = (
        ExceptionItem.objects.filter(status=ExceptionItem.Status.OPEN)
        .values("kind")
        .annotate(**{f"b{i}": agg for i, agg in enumerate(buckets.values())})
        .order_by("kind")
    )
    labels = list(buckets)
    return {
        r["kind"]: {label: r[f"b{i}"] for i, label in enumerate(labels) if r[f"b{i}"]} for r in rows
    }


def _match_rates(scope: Scope) -> dict[str, Decimal]:
    start, end = scope.period.start, scope.period.end
    rows = (
        SettlementBatch.objects.filter(is_statement=False)
        .filter(Q(deposit_date__gte=start, deposit_date__lt=end) | Q(deposit_date__isnull=True))
        .values("provider")
        .annotate(n_lines=Sum("lines_count"), n_matched=Sum("matched"))
        .order_by("provider")
    )
    return {
        r["provider"]: (Decimal(100) * r["n_matched"] / r["n_lines"]).quantize(Decimal("0.1"))
        for r in rows
        if r["n_lines"]
    }


def reconciliation_context(scope: Scope) -> dict[str, Any]:
    by_day = figures_by_day(scope)  # the table and the trend from the same rows
    rows = figures_read(scope, by_day)
    currencies = {r.currency for r in rows}
    days = scope.period.days()
    trend = daily_series(scope, TREND, by_day) if len(currencies) == 1 else {}
    ages = _exception_ages()
    rates = _match_rates(scope)
    return {
        "scope": scope,
        "rows": rows,
        "figures": FIGURES,
        "flow": FLOW,
        "trend": trend,
        "trend_days": days,
        "trend_chart": line_chart(
            "Daily, in " + (next(iter(currencies)) if trend else ""),
            [d.strftime("%d") for d in days],
            [Series(FIGURES[n], [trend[n].get(d, Decimal(0)) for d in days]) for n in trend],
        )
        if trend
        else None,
        "ages": ages,
        "age_labels": [label for _, label in AGES],
        "ages_chart": bar_chart(
            "Open exceptions by kind", {k: Decimal(sum(v.values())) for k, v in ages.items()}
        ),
        "rates": rates,
        "rates_chart": bar_chart("Lines matched per provider", rates, unit=" %"),
    }


@roles_required("finance")
def reconciliation(request: HttpRequest) -> HttpResponse:
    form = ScopeForm(request.GET or None)
    scope = form.scope()
    context = reconciliation_context(scope)
    context["form"] = form
    context["query"] = _query(scope)
    return render(request, "reconciliation/dashboard.html", context)


def _query(scope: Scope) -> str:
    from urllib.parse import urlencode

    end = scope.period.end - timedelta(days=1)
    return urlencode(
        {
            "start": scope.period.start.isoformat(),
            "end": end.isoformat(),
            "channel": scope.channel,
            "legal_entity": scope.legal_entity,
        }
    )


@roles_required("finance")
def drill_down(request: HttpRequest, figure: str) -> HttpResponse:
    """The records behind one cell, with the same total at the foot."""
    if figure not in FIGURES:
        raise Http404("no such figure")
    from .figures import FIGURE_SOURCES

    if figure not in FIGURE_SOURCES:
        raise Http404("this figure has no records yet")
    scope = ScopeForm(request.GET or None).scope()
    related = {
        "shipped": ["line__order", "shipment"],
        "cancelled": ["order"],
        "expected": ["order"],
        "deposited": ["deposit_line"],
        "posted": ["entry", "account"],
    }.get(figure, [])
    records = figure_records(figure, scope).select_related(*related).order_by("pk")
    page = Paginator(records, 100).get_page(request.GET.get("page"))
    channel = Channel.objects.filter(code=scope.channel).first()
    return render(
        request,
        "reconciliation/records.html",
        {
            "figure": figure,
            "title": FIGURES[figure],
            "scope": scope,
            "page": page,
            "rows": [_describe(figure, r) for r in page],
            "total": figure_total(figure, records),
            "count": records.count(),
            "currency": channel.currency if channel else "",
            "query": _query(scope),
            "today": date.today(),
        },
    )


def _describe(figure: str, record: Any) -> dict[str, Any]:
    """A record as a row of the drill-down: what it is, its link, its date, its amount."""
    from .records import describe

    return describe(figure, record)


def exceptions_by_kind() -> dict[str, int]:
    return dict(
        ExceptionItem.objects.filter(status=ExceptionItem.Status.OPEN)
        .values_list("kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
