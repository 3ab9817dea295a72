"""Core endpoints: the exception queue and the trace."""

from __future__ import annotations

from typing import Any

import django_filters
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .audit import audit_note
from .errors import NotFound
from .models import ExceptionItem
from .schema import ERRORS
from .selectors import AGING_BUCKETS, age_bucket_filter, trace_timeline
from .serializers import StrictSerializer
from .services import exception_close


class ExceptionFilter(django_filters.FilterSet):  # type: ignore[misc]  # no types shipped
    status = django_filters.ChoiceFilter(choices=ExceptionItem.Status.choices)
    kind = django_filters.CharFilter(label="Kind")
    channel = django_filters.CharFilter(field_name="channel__code", label="Channel")
    age = django_filters.ChoiceFilter(
        choices=[(name, name) for name, _, _ in AGING_BUCKETS], method="filter_age", label="Age"
    )

    class Meta:
        model = ExceptionItem
        fields = ["status", "kind", "channel", "age"]

    def filter_age(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.filter(age_bucket_filter(value, timezone.now()))


class ExceptionOutput(serializers.ModelSerializer[ExceptionItem]):
    age = serializers.SerializerMethodField(help_text="Seconds since it was raised.")
    object = serializers.SerializerMethodField()
    channel: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    resolved_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = ExceptionItem
        fields = [
            "id",
            "kind",
            "reason",
            "details",
            "created_at",
            "last_seen_at",
            "age",
            "occurrences",
            "status",
            "object",
            "channel",
            "correlation_id",
            "resolved_at",
            "resolved_by",
            "resolution",
        ]

    def get_age(self, obj: ExceptionItem) -> int:
        return int(obj.age().total_seconds())

    def get_object(self, obj: ExceptionItem) -> dict[str, str]:
        return {"type": obj.object_type, "id": obj.object_id, "label": obj.object_label}


class ExceptionListApi(generics.ListAPIView[ExceptionItem]):
    serializer_class = ExceptionOutput
    filterset_class = ExceptionFilter
    queryset = ExceptionItem.objects.select_related("channel", "resolved_by").order_by(
        "-created_at"
    )


class ExceptionCloseApi(APIView):
    """Resolve or ignore an open exception, with a note on how."""

    status_to: str = ExceptionItem.Status.RESOLVED

    class CloseInput(StrictSerializer):
        resolution = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=CloseInput, responses={200: ExceptionOutput, 409: ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        data = self.CloseInput(data=request.data)
        data.is_valid(raise_exception=True)
        item = ExceptionItem.objects.filter(pk=pk).first()
        if item is None:
            raise NotFound(f"exception {pk} does not exist")
        item = exception_close(
            item=item,
            user=request.user,
            status=self.status_to,
            resolution=data.validated_data["resolution"],
        )
        audit_note(request, close_outcome(item))
        return Response(ExceptionOutput(item).data)


def close_outcome(item: ExceptionItem) -> str:
    """`exception 7 (order_rejected) resolved: SKU mapped, replayed`, for the audit record."""
    said = f": {item.resolution}" if item.resolution else ""
    return f"exception {item.pk} ({item.kind}) {item.status}{said}"


class TraceEntryOutput(serializers.Serializer[Any]):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    title = serializers.CharField()
    detail = serializers.CharField()
    ref = serializers.CharField()


class TraceApi(APIView):
    @extend_schema(
        responses=inline_serializer(
            "Trace",
            {"correlation_id": serializers.CharField(), "entries": TraceEntryOutput(many=True)},
        )
    )
    def get(self, request: Request, correlation_id: str) -> Response:
        entries = trace_timeline(correlation_id)
        if not entries:
            raise NotFound(f"nothing is recorded under correlation id {correlation_id!r}")
        return Response(
            {
                "correlation_id": correlation_id,
                "entries": TraceEntryOutput(entries, many=True).data,
            }
        )
