"""`GET journals/export?period=YYYY-MM&format=csv|beancount`: the period's entries as a file,
through the writers of `journals.exports` (the same `ErpJournal` the ERP adapters take)."""

from __future__ import annotations

import io
from collections.abc import Iterable

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from retailsync.core.auth import role_required
from retailsync.core.errors import FieldError, Malformed

from .exports.beancount import write_beancount
from .exports.csv_export import write_csv
from .models import Account, JournalEntry
from .services.delivery import erp_journal
from .services.periods import PERIOD

Finance = role_required("finance")
FORMATS = {"csv": "text/csv", "beancount": "text/plain"}


class _FormatIsOurs(DefaultContentNegotiation):
    """`format` is this endpoint's own parameter (API.md), not DRF's renderer override: the
    file is the answer, and errors are JSON."""

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        first = next(iter(renderers))
        return first, first.media_type


class JournalExportApi(APIView):
    """Every entry of the period (any status), by posting date; `legal_entity` narrows it."""

    permission_classes = [Finance]
    content_negotiation_class = _FormatIsOurs

    @extend_schema(
        parameters=[
            OpenApiParameter("period", str, required=True, description="YYYY-MM"),
            OpenApiParameter("format", str, enum=list(FORMATS), required=True),
            OpenApiParameter("legal_entity", str, required=False),
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "text/plain"): OpenApiTypes.STR,
        },
    )
    def get(self, request: Request) -> HttpResponse:
        params = request.query_params
        period, kind = params.get("period", ""), params.get("format", "")
        entity = params.get("legal_entity", "")
        problems = []
        if not PERIOD.match(period):
            problems.append(FieldError("period", "must be a month as YYYY-MM"))
        if kind not in FORMATS:
            problems.append(FieldError("format", f"must be one of {', '.join(FORMATS)}"))
        if problems:
            raise Malformed(problems)
        entries = JournalEntry.objects.filter(period__period=period).select_related(
            "legal_entity", "channel", "reversal_of"
        )
        if entity:
            entries = entries.filter(legal_entity__code=entity)
        journals = [
            erp_journal(e, None) for e in entries.order_by("posting_date", "pk") if e.lines.exists()
        ]
        out = io.StringIO()
        if kind == "csv":
            write_csv(journals, out)
        else:
            accounts = {
                a.erp_account_id or a.code: (a.type, f"{a.code} {a.name}")
                for a in Account.objects.filter(
                    legal_entity__code__in={j.legal_entity for j in journals}
                ).order_by("pk")
            }
            write_beancount(journals, accounts, out)
        response = HttpResponse(out.getvalue(), content_type=f"{FORMATS[kind]}; charset=utf-8")
        suffix = "csv" if kind == "csv" else "beancount"
        response["Content-Disposition"] = f'attachment; filename="journals-{period}.{suffix}"'
        return response
