"""Core endpoints: the exception queue and the trace."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .audit import audit_note
from .errors import NotFound
from .filters import ExceptionFilter
from .models import ExceptionComment, ExceptionItem
from .registry import object_links
from .schema import ERRORS
from .selectors import trace_timeline
from .serializers import StrictSerializer
from .services import exception_close
from .sla import due_at, is_overdue
from .workbench import exception_assign, exception_comment_add, owner_named

__all__ = ["ExceptionFilter"]


class CommentOutput(serializers.ModelSerializer[ExceptionComment]):
    author: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = ExceptionComment
        fields = ["id", "author", "text", "at"]


class ExceptionOutput(serializers.ModelSerializer[ExceptionItem]):
    age = serializers.SerializerMethodField(help_text="Seconds since it was raised.")
    object = serializers.SerializerMethodField()
    link = serializers.SerializerMethodField(
        help_text="The page of what it concerns, named as people know it; null if none."
    )
    owner: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    due_at = serializers.SerializerMethodField(help_text="When its kind's SLA runs out.")
    overdue = serializers.SerializerMethodField(help_text="Open past `due_at`.")
    comments = CommentOutput(many=True, read_only=True)
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
            "link",
            "channel",
            "correlation_id",
            "resolved_at",
            "resolved_by",
            "resolution",
            "owner",
            "due_at",
            "overdue",
            "comments",
        ]

    def get_age(self, obj: ExceptionItem) -> int:
        return int(obj.age().total_seconds())

    def get_object(self, obj: ExceptionItem) -> dict[str, str]:
        return {"type": obj.object_type, "id": obj.object_id, "label": obj.object_label}

    @extend_schema_field(
        inline_serializer(
            "ExceptionLink",
            {
                "label": serializers.CharField(help_text="As people know it: `WS-6018`, `RMA-4`."),
                "url": serializers.CharField(help_text="Its back-office page."),
            },
            allow_null=True,
        )
    )
    def get_link(self, obj: ExceptionItem) -> dict[str, str] | None:
        links = self.context.get("links")
        if links is None:
            links = object_links([(obj.object_type, obj.object_id)])
        link = links.get((obj.object_type, obj.object_id))
        return {"label": link.label, "url": link.url} if link else None

    def get_due_at(self, obj: ExceptionItem) -> datetime:
        return due_at(obj)

    def get_overdue(self, obj: ExceptionItem) -> bool:
        return is_overdue(obj, timezone.now())


def exceptions_listed() -> QuerySet[ExceptionItem]:
    return (
        ExceptionItem.objects.select_related("channel", "resolved_by", "owner")
        .prefetch_related(
            Prefetch("comments", ExceptionComment.objects.select_related("author").order_by("at"))
        )
        .order_by("-created_at", "-pk")
    )


class ExceptionListApi(generics.ListAPIView[ExceptionItem]):
    """Filters: `owner=me|unassigned|<username>`, `overdue=true|false`, status, kind, channel,
    age."""

    serializer_class = ExceptionOutput
    filterset_class = ExceptionFilter

    def get_queryset(self) -> QuerySet[ExceptionItem]:
        return exceptions_listed()

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        rows = args[0] if args else None
        if isinstance(rows, list):  # one page: every row's link in one query per type
            kwargs.setdefault("context", self.get_serializer_context())
            kwargs["context"]["links"] = object_links((x.object_type, x.object_id) for x in rows)
        return super().get_serializer(*args, **kwargs)


def _item(pk: int) -> ExceptionItem:
    item = exceptions_listed().filter(pk=pk).first()
    if item is None:
        raise NotFound(f"exception {pk} does not exist")
    return item


class ExceptionCloseApi(APIView):
    """Resolve or ignore an open exception, with a note on how (required)."""

    status_to: str = ExceptionItem.Status.RESOLVED

    class CloseInput(StrictSerializer):
        resolution = serializers.CharField(
            max_length=4000, help_text="How it was resolved, or why it is ignored."
        )

    @extend_schema(request=CloseInput, responses={200: ExceptionOutput, 409: ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        data = self.CloseInput(data=request.data)  # a body that is no JSON: 400 first
        item = _item(pk)
        data.is_valid(raise_exception=True)
        item = exception_close(
            item=item,
            user=request.user,
            status=self.status_to,
            resolution=data.validated_data["resolution"],
        )
        audit_note(request, close_outcome(item))
        return Response(ExceptionOutput(_item(pk)).data)


class ExceptionAssignApi(APIView):
    """Give an open exception to a person (`owner`: a username), or to nobody (null)."""

    class AssignInput(StrictSerializer):
        owner = serializers.CharField(
            allow_null=True, max_length=150, help_text="A username, or null to unassign."
        )

    @extend_schema(request=AssignInput, responses={200: ExceptionOutput, 409: ERRORS, 422: ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        data = self.AssignInput(data=request.data)  # a body that is no JSON: 400 first
        _item(pk)
        data.is_valid(raise_exception=True)
        owner = owner_named(data.validated_data["owner"])
        exception_assign(item_id=pk, owner=owner)
        who = owner.get_username() if owner else "nobody"
        audit_note(request, f"exception {pk} assigned to {who}")
        return Response(ExceptionOutput(_item(pk)).data)


class ExceptionCommentApi(APIView):
    """Add a comment to an exception, open or closed."""

    class CommentInput(StrictSerializer):
        text = serializers.CharField(max_length=4000)

    @extend_schema(request=CommentInput, responses={201: CommentOutput})
    def post(self, request: Request, pk: int) -> Response:
        data = self.CommentInput(data=request.data)  # a body that is no JSON: 400 first
        _item(pk)
        data.is_valid(raise_exception=True)
        comment = exception_comment_add(
            item_id=pk, author=request.user, text=data.validated_data["text"]
        )
        audit_note(request, f"comment on exception {pk}")
        return Response(CommentOutput(comment).data, status=201)


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
