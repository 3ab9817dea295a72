"""Settlement endpoints (API.md): uploads followed to `done`, batches with their figures and
lines, and what finance does by hand (re-run, undo, match, unmatch, write off)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.api import amount
from orders.models import Order
from retailsync.core.auth import role_required
from retailsync.core.errors import BusinessRuleViolation, Malformed, NotFound
from retailsync.core.models import Channel
from retailsync.core.publish import task_publish
from retailsync.core.schema import ERRORS
from retailsync.core.serializers import StrictSerializer

from .loading import upload_create
from .matching import batch_match, batches_match
from .matching.actions import batch_undo, line_match, line_unmatch, line_write_off
from .models import Provider, SettlementBatch, SettlementLine, Upload, channel_refused
from .selectors import BatchFilter, LineFilter, batches_listed
from .tasks import upload_process_task

Finance = role_required("finance")


class UploadOutput(serializers.ModelSerializer[Upload]):
    batches = serializers.ListField(source="batch_ids", child=serializers.IntegerField())
    channel: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )

    class Meta:
        model = Upload
        fields = [
            "id",
            "status",
            "progress",
            "provider",
            "channel",
            "name",
            "size",
            "sha256",
            "rows",
            "batches",
            "counts",
            "errors",
            "created_at",
            "finished_at",
        ]


class UploadInput(StrictSerializer):
    file = serializers.FileField()
    provider = serializers.ChoiceField(choices=Provider.values)
    channel = serializers.SlugField(required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if refused := channel_refused(attrs["provider"], attrs["channel"]):
            raise serializers.ValidationError({"channel": refused})
        return attrs


class UploadCreateApi(APIView):
    permission_classes = [Finance]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": UploadInput},
        responses={202: UploadOutput, 400: ERRORS, 413: ERRORS, 422: ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = UploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload_file = data.validated_data["file"]
        limit = settings.SETTLEMENT_UPLOAD_MAX_BYTES
        if upload_file.size > limit:
            error = Malformed(f"the file is {upload_file.size} bytes, over {limit}", field="file")
            error.status_code = 413
            raise error
        channel = None
        if code := data.validated_data["channel"]:
            channel = Channel.objects.filter(code=code).first()
            if channel is None:  # a reference in the body to nothing: 422 (API.md)
                raise BusinessRuleViolation(f"no channel {code!r}", field="channel")
        upload = upload_create(
            stream=upload_file,
            name=upload_file.name or "upload",
            provider=data.validated_data["provider"],
            channel=channel,
            user=request.user if request.user.is_authenticated else None,
            now=timezone.now(),
        )
        if upload.status == Upload.Status.QUEUED:
            # Once the request's transaction (AuditMiddleware's) has committed: a worker that
            # took the task sooner would not find the upload, and the task would be lost.
            upload_id = upload.pk
            transaction.on_commit(lambda: task_publish(upload_process_task, upload_id=upload_id))
        return Response(UploadOutput(upload).data, status=status.HTTP_202_ACCEPTED)


class UploadDetailApi(generics.RetrieveAPIView[Upload]):
    permission_classes = [Finance]
    serializer_class = UploadOutput
    queryset = Upload.objects.select_related("channel")


@extend_schema_field(serializers.CharField(allow_null=True, help_text='e.g. "-12.34"'))
class _Amount(serializers.Field):  # type: ignore[type-arg]
    """An amount as API.md writes it: a string to its currency's minor unit (the object's
    `currency`), null when there is none."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def get_attribute(self, instance: Any) -> tuple[Any, str]:
        return super().get_attribute(instance), instance.currency

    def to_representation(self, value: tuple[Any, str]) -> str | None:
        return amount(*value)


class BatchOutput(serializers.ModelSerializer[SettlementBatch]):
    channel: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    legal_entity: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    gross = _Amount()
    fees = _Amount()
    refunds = _Amount()
    chargebacks = _Amount()
    net = _Amount()
    payout_amount = _Amount()
    variance = _Amount()
    opening_balance = _Amount()
    closing_balance = _Amount()
    match_rate = serializers.SerializerMethodField()

    class Meta:
        model = SettlementBatch
        fields = [
            "id",
            "provider",
            "key",
            "is_statement",
            "channel",
            "legal_entity",
            "period_start",
            "period_end",
            "deposit_date",
            "currency",
            "gross",
            "fees",
            "refunds",
            "chargebacks",
            "net",
            "payout_amount",
            "variance",
            "opening_balance",
            "closing_balance",
            "match_rate",
            "lines_count",
            "matched",
            "unmatched",
            "matched_at",
            "deposit_status",
            "deposited_on",
            "file_hash",
            "created_at",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True, help_text='e.g. "0.9750"'))
    def get_match_rate(self, batch: SettlementBatch) -> str | None:
        return f"{batch.matched / batch.lines_count:.4f}" if batch.lines_count else None


class LineOutput(serializers.ModelSerializer[SettlementLine]):
    gross = _Amount()
    fee = _Amount()
    net = _Amount()

    class Meta:
        model = SettlementLine
        fields = [
            "id",
            "batch",
            "row",
            "line_key",
            "kind",
            "currency",
            "gross",
            "fee",
            "net",
            "posted_at",
            "order_ref",
            "payment_ref",
            "related_ref",
            "payment_method",
            "description",
            "outcome",
            "rule",
            "reason",
            "order",
            "expected",
            "manual",
            "note",
            "raw",
        ]


class BatchListApi(generics.ListAPIView[SettlementBatch]):
    permission_classes = [Finance]
    serializer_class = BatchOutput
    filterset_class = BatchFilter

    def get_queryset(self) -> QuerySet[SettlementBatch]:
        return batches_listed()


class BatchDetailApi(generics.RetrieveAPIView[SettlementBatch]):
    permission_classes = [Finance]
    serializer_class = BatchOutput

    def get_queryset(self) -> QuerySet[SettlementBatch]:
        return batches_listed()


class BatchLinesApi(generics.ListAPIView[SettlementLine]):
    permission_classes = [Finance]
    serializer_class = LineOutput
    filterset_class = LineFilter

    def get_queryset(self) -> QuerySet[SettlementLine]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator's dry run
            return SettlementLine.objects.none()
        # The batch first: one that does not exist (or an id past any integer, which a
        # foreign-key filter would hand SQLite as is) is a 404, not an empty page.
        return SettlementLine.objects.filter(batch=_batch(self.kwargs["pk"])).order_by("id")


def _batch(pk: int) -> SettlementBatch:
    batch = batches_listed().filter(pk=pk).first()
    if batch is None:
        raise NotFound(f"settlement batch {pk} does not exist")
    return batch


def _line(pk: int) -> SettlementLine:
    line = SettlementLine.objects.select_related("batch__legal_entity").filter(pk=pk).first()
    if line is None:
        raise NotFound(f"settlement line {pk} does not exist")
    return line


class BatchMatchApi(APIView):
    """Run the rules over the batch again (what a person set stays)."""

    permission_classes = [Finance]

    @extend_schema(request=None, responses={200: BatchOutput, 404: ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        batch = _batch(pk)
        batch_match(batch, now=timezone.now(), user=request.user)
        batches_match([], now=timezone.now())
        return Response(BatchOutput(_batch(pk)).data)


class BatchUndoApi(APIView):
    """Take back the rules' matches of the batch."""

    permission_classes = [Finance]

    @extend_schema(request=None, responses={200: BatchOutput, 404: ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        user = request.user if request.user.is_authenticated else None
        batch_undo(_batch(pk), user=user, now=timezone.now())
        return Response(BatchOutput(_batch(pk)).data)


class LineActionInput(StrictSerializer):
    order = serializers.IntegerField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class LineActionApi(APIView):
    """`match` (with `order`), `unmatch`, `write-off` (with `reason`)."""

    permission_classes = [Finance]
    action = ""

    @extend_schema(request=LineActionInput, responses={200: LineOutput, 404: ERRORS, 422: ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        data = LineActionInput(data=request.data)
        data.is_valid(raise_exception=True)
        values, line, now = data.validated_data, _line(pk), timezone.now()
        user = request.user if request.user.is_authenticated else None
        if self.action == "match":
            order = Order.objects.filter(pk=values.get("order")).first()
            if order is None:
                raise BusinessRuleViolation("give the id of an existing order", field="order")
            line = line_match(line, order=order, user=user, note=values["note"], now=now)
        elif self.action == "unmatch":
            line = line_unmatch(line, user=user, note=values["note"], now=now)
        else:
            line = line_write_off(line, user=user, reason=values["reason"], now=now)
        return Response(LineOutput(line).data)
