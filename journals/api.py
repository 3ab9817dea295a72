"""Journal endpoints (API.md): entries by period with their lines and sources, the run, and each
step of an entry's life; periods closed and locked; the way up from a source to its lines."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from retailsync.core.audit import audit_note
from retailsync.core.auth import role_required
from retailsync.core.errors import FieldError, Malformed, NotFound
from retailsync.core.schema import ERRORS

from .models import AccountingPeriod, JournalEntry, JournalLine, JournalLineSource
from .selectors import (
    SOURCE_TYPES,
    EntryFilter,
    entries_listed,
    line_sources,
    lines_fed_by,
    lines_with_sources,
    periods_listed,
)
from .serializers import (
    JournalEntryDetailOutput,
    JournalEntryOutput,
    JournalFedLineOutput,
    JournalNoInput,
    JournalPeriodOutput,
    JournalReverseInput,
    JournalRunInput,
    JournalRunOutput,
    JournalSourceOutput,
)
from .services.lifecycle import (
    journal_entry_approve,
    journal_entry_post,
    journal_entry_reverse,
)
from .services.periods import PERIOD, period_set_status
from .services.run import journals_run

Finance = role_required("finance")


def _entry(pk: int) -> JournalEntry:
    entry = entries_listed().prefetch_related("deliveries").filter(pk=pk).first()
    if entry is None:
        raise NotFound(f"journal entry {pk} does not exist")
    lines_with_sources([entry])
    return entry


def _body(
    serializer: type[JournalNoInput] | type[JournalReverseInput] | type[JournalRunInput], data: Any
) -> Any:
    parsed = serializer(data=data)
    parsed.is_valid(raise_exception=True)
    return parsed.validated_data


class JournalListApi(generics.ListAPIView[JournalEntry]):
    """Entries, by posting date: `period=YYYY-MM`, `legal_entity`, `channel`, `status`."""

    permission_classes = [Finance]
    serializer_class = JournalEntryOutput
    filterset_class = EntryFilter

    def get_queryset(self) -> QuerySet[JournalEntry]:
        period = self.request.query_params.get("period")
        if period is not None and not PERIOD.match(period):
            raise Malformed([FieldError("period", "must be a month as YYYY-MM")])
        return entries_listed()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        entries = list(page if page is not None else queryset)
        lines_with_sources(entries)
        data = JournalEntryOutput(entries, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)


class JournalDetailApi(APIView):
    permission_classes = [Finance]

    @extend_schema(responses={200: JournalEntryDetailOutput})
    def get(self, request: Request, pk: int) -> Response:
        return Response(JournalEntryDetailOutput(_entry(pk)).data)


class JournalLineSourcesApi(generics.ListAPIView[JournalLineSource]):
    """Every source of one line, paged (an entry shows each line's first 100)."""

    permission_classes = [Finance]
    serializer_class = JournalSourceOutput

    def get_queryset(self) -> QuerySet[JournalLineSource]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no path
            return JournalLineSource.objects.none()
        # The line first, by its own key (any integer in the path answers 404 rather than
        # reaching the database through a foreign key): a line not of this entry is not there.
        entry_id, line_id = self.kwargs["pk"], self.kwargs["line"]
        line = JournalLine.objects.filter(pk=line_id).values_list("entry_id", flat=True).first()
        if line != entry_id:
            raise NotFound(f"journal entry {entry_id} has no line {line_id}")
        return line_sources(entry_id=entry_id, line_id=line_id)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if getattr(self, "swagger_fake_view", False):
            return context
        currency = (
            JournalEntry.objects.filter(pk=self.kwargs["pk"])
            .values_list("currency", flat=True)
            .first()
        )
        if currency is None:
            raise NotFound(f"journal entry {self.kwargs['pk']} does not exist")
        context["currency"] = currency
        return context


class JournalLinesFedApi(generics.ListAPIView[JournalLineSource]):
    """The way up: the journal lines a source record (`type`: order, settlement_line,
    settlement_batch, return, shipment; `id`) is part of."""

    permission_classes = [Finance]
    serializer_class = JournalFedLineOutput
    filter_backends: list[Any] = []

    @extend_schema(
        parameters=[
            OpenApiParameter("type", str, enum=SOURCE_TYPES, required=True),
            OpenApiParameter("id", OpenApiTypes.INT64, required=True),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[JournalLineSource]:
        params = self.request.query_params
        kind, ident = params.get("type", ""), params.get("id", "")
        problems = []
        if kind not in SOURCE_TYPES:
            problems.append(FieldError("type", f"must be one of {', '.join(SOURCE_TYPES)}"))
        if not ident.isascii() or not ident.isdigit() or len(ident) > 18:
            problems.append(FieldError("id", "must be a whole number"))
        if problems:
            raise Malformed(problems)
        return lines_fed_by(source_type=kind, source_id=int(ident))


class JournalRunApi(APIView):
    """Build or complete the draft journals for everything up to the period not journaled yet;
    running it again adds nothing."""

    permission_classes = [Finance]

    @extend_schema(
        request=JournalRunInput, responses={200: JournalRunOutput, 409: ERRORS, 422: ERRORS}
    )
    def post(self, request: Request) -> Response:
        period = _body(JournalRunInput, request.data)["period"]
        entries = journals_run(period=period, now=timezone.now())
        audit_note(request, f"journals run for {period}: {entries} entries made or completed")
        return Response({"entries": entries})


class JournalApproveApi(APIView):
    permission_classes = [Finance]

    @extend_schema(
        request=JournalNoInput, responses={200: JournalEntryDetailOutput, 409: ERRORS, 422: ERRORS}
    )
    def post(self, request: Request, pk: int) -> Response:
        _body(JournalNoInput, request.data)
        entry = journal_entry_approve(entry_id=pk, user=request.user, now=timezone.now())
        said = "approved" if entry.status == JournalEntry.Status.APPROVED else "first approval of"
        audit_note(request, f"{said} {entry}")
        return Response(JournalEntryDetailOutput(_entry(pk)).data)


class JournalPostApi(APIView):
    """Deliver the entry to its legal entity's ERP: 202, delivered after this answer (its
    attempts in `deliveries`); `posted` with the ERP's document id, or `failed`."""

    permission_classes = [Finance]

    @extend_schema(request=JournalNoInput, responses={202: JournalEntryDetailOutput, 409: ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        _body(JournalNoInput, request.data)
        entry = journal_entry_post(entry_id=pk, now=timezone.now())
        audit_note(request, f"{entry} handed to its ERP")
        return Response(JournalEntryDetailOutput(_entry(pk)).data, status=status.HTTP_202_ACCEPTED)


class JournalReverseApi(APIView):
    """A new draft entry undoing a posted one, line by line (posted entries are never edited)."""

    permission_classes = [Finance]

    @extend_schema(
        request=JournalReverseInput, responses={201: JournalEntryDetailOutput, 409: ERRORS}
    )
    def post(self, request: Request, pk: int) -> Response:
        data = _body(JournalReverseInput, request.data)
        reversal = journal_entry_reverse(
            entry_id=pk,
            user=request.user,
            now=timezone.now(),
            posting_date=data.get("posting_date"),
            note=data["note"],
        )
        audit_note(request, f"{reversal} reverses entry {pk}")
        return Response(JournalEntryDetailOutput(_entry(reversal.pk)).data, status=201)


class PeriodListApi(generics.ListAPIView[AccountingPeriod]):
    """Periods that have had anything posted or a status set (any other is open)."""

    permission_classes = [Finance]
    serializer_class = JournalPeriodOutput
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[AccountingPeriod]:
        return periods_listed()


class PeriodStatusApi(APIView):
    """`close` (events then post to the next open period), `reopen`, `lock` (reversals only)."""

    permission_classes = [Finance]
    status_to = ""

    @extend_schema(
        request=JournalNoInput, responses={200: JournalPeriodOutput, 409: ERRORS, 422: ERRORS}
    )
    def post(self, request: Request, legal_entity: str, period: str) -> Response:
        _body(JournalNoInput, request.data)
        row = period_set_status(
            legal_entity=legal_entity,
            period=period,
            status=self.status_to,
            user=request.user,
            now=timezone.now(),
        )
        audit_note(request, f"{legal_entity} {period} is {row.status}")
        return Response(JournalPeriodOutput(periods_listed().get(pk=row.pk)).data)


STATUS_ACTIONS = {
    "close": AccountingPeriod.Status.CLOSED,
    "reopen": AccountingPeriod.Status.OPEN,
    "lock": AccountingPeriod.Status.LOCKED,
}
