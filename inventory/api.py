"""Inventory endpoints (API.md): master data, allocation rules, stock events, positions, and the
channel availability feed."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, generics, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from retailsync.core.audit import audit_note
from retailsync.core.auth import (
    ChannelOrStaffTokenAuthentication,
    ChannelTokenOrRole,
    request_channel,
    role_required,
)
from retailsync.core.errors import FieldError, Malformed, NotFound
from retailsync.core.guards import BIGINT_MAX, query_int
from retailsync.core.models import Channel
from retailsync.core.schema import ERRORS
from retailsync.core.serializers import StrictSerializer

from .availability import availability_feed
from .models import EventBatch, Item, Location, Position
from .selectors import positions_find
from .services import (
    EventInput,
    allocation_set,
    channel_webhook_secret,
    event_batch_queue,
    item_upsert,
    location_upsert,
    stock_events_apply,
)

Operations = role_required("operations")
# Up to this many events apply while the caller waits; more are queued (202 and a job id).
SYNC_EVENTS = 500
FEED_LIMIT, FEED_MAX_LIMIT = 1000, 5000
MAX_QUANTITY = 2**31 - 1
TTL_MAX_MINUTES = 366 * 24 * 60  # a reservation held for at most a year


class LocationApi(APIView):
    permission_classes = [Operations]

    class LocationInput(StrictSerializer):
        code = serializers.SlugField(max_length=64)
        kind = serializers.ChoiceField(choices=Location.Kind.values)
        name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
        legal_entity = serializers.CharField(required=False, allow_blank=True, default="")

    class LocationOutput(serializers.ModelSerializer[Location]):
        class Meta:
            model = Location
            fields = ["id", "code", "kind", "name", "is_active"]

    @extend_schema(
        request=LocationInput,
        responses={201: LocationOutput, 200: LocationOutput, 422: ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = self.LocationInput(data=request.data)
        data.is_valid(raise_exception=True)
        location, created = location_upsert(**data.validated_data)
        return Response(self.LocationOutput(location).data, status=201 if created else 200)


class ItemApi(APIView):
    permission_classes = [Operations]

    class ItemInput(StrictSerializer):
        sku = serializers.CharField(max_length=100)
        description = serializers.CharField(
            max_length=300, required=False, allow_blank=True, default=""
        )
        unit_cost = serializers.DecimalField(
            max_digits=19, decimal_places=4, required=False, allow_null=True, default=None
        )
        cost_currency = serializers.CharField(
            max_length=3, required=False, allow_blank=True, default=""
        )
        components = serializers.DictField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY),
            required=False,
            help_text="SKU → quantity: a bundle.",
        )

    class ItemOutput(serializers.ModelSerializer[Item]):
        components = serializers.SerializerMethodField()

        class Meta:
            model = Item
            fields = ["id", "sku", "description", "unit_cost", "cost_currency", "components"]

        def get_components(self, item: Item) -> dict[str, int]:
            return {
                c.component.sku: c.quantity for c in item.components.select_related("component")
            }

    @extend_schema(request=ItemInput, responses={201: ItemOutput, 200: ItemOutput, 422: ERRORS})
    def post(self, request: Request) -> Response:
        data = self.ItemInput(data=request.data)
        data.is_valid(raise_exception=True)
        item, created = item_upsert(**data.validated_data)
        return Response(self.ItemOutput(item).data, status=201 if created else 200)


class AllocationApi(APIView):
    permission_classes = [Operations]

    class AllocationInput(StrictSerializer):
        locations = serializers.ListField(
            child=serializers.SlugField(),
            allow_empty=True,
            help_text="In priority order: the first goes first.",
        )
        safety_stock = serializers.IntegerField(min_value=0, max_value=MAX_QUANTITY, default=0)
        share_percent = serializers.DecimalField(
            max_digits=5,
            decimal_places=2,
            min_value=0,
            max_value=100,
            required=False,
            allow_null=True,
            default=None,
        )
        cap = serializers.IntegerField(
            min_value=0, max_value=MAX_QUANTITY, required=False, allow_null=True, default=None
        )
        allow_split = serializers.BooleanField(default=True)
        reservation_ttl_minutes = serializers.IntegerField(
            min_value=1, max_value=TTL_MAX_MINUTES, required=False, allow_null=True, default=None
        )
        webhook_url = serializers.URLField(
            required=False,
            allow_blank=True,
            default="",
            help_text="https only, public addresses only. Every push is signed: "
            "`X-Retailsync-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<body>' "
            "with the webhook secret>`.",
        )
        rotate_webhook_secret = serializers.BooleanField(
            default=False,
            write_only=True,
            help_text="Issue a new signing secret (answered once in webhook_secret).",
        )
        item_safety_stock = serializers.DictField(
            child=serializers.IntegerField(min_value=0, max_value=MAX_QUANTITY),
            required=False,
            default=dict,
        )

    class AllocationOutput(AllocationInput):
        webhook_secret = serializers.CharField(
            required=False,
            help_text="Only when a secret was issued by this call (a new webhook, or "
            "rotate_webhook_secret): shown once, keep it to verify pushes.",
        )

    @extend_schema(
        request=AllocationInput,
        responses={200: AllocationOutput, 422: ERRORS},
    )
    def put(self, request: Request, code: str) -> Response:
        channel = Channel.objects.filter(code=code).first()
        if channel is None:
            raise NotFound(f"channel {code!r} does not exist")
        data = self.AllocationInput(data=request.data)
        data.is_valid(raise_exception=True)
        before = channel_webhook_secret(channel)
        allocation = allocation_set(channel=channel, **data.validated_data)
        v = data.validated_data
        audit_note(
            request,
            f"allocation of {code} set: locations {', '.join(v['locations']) or 'none'}, "
            f"safety stock {v['safety_stock']}",
        )
        answer = dict(data.data)
        if allocation.webhook_secret and allocation.webhook_secret != before:
            # Shown this once, like a token: the channel keeps it to verify our pushes.
            answer["webhook_secret"] = allocation.webhook_secret
        return Response(answer)


class EventInputSerializer(StrictSerializer):
    event_id = serializers.CharField(max_length=128)
    source = serializers.CharField(max_length=64)  # type: ignore[assignment]
    type = serializers.CharField(max_length=20)
    sku = serializers.CharField(max_length=100)
    location = serializers.CharField(max_length=64)
    to_location = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    # Quantities are PostgreSQL integers: a larger one is malformed, not a database error.
    quantity = serializers.IntegerField(min_value=-MAX_QUANTITY, max_value=MAX_QUANTITY)
    occurred_at = serializers.DateTimeField()
    reference = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


def _by_index(errors: Any) -> list[tuple[int, dict[str, Any]]]:
    """A list serializer's errors per event: DRF gives a list (one dict per event) or a dict
    of the failing events by index."""
    pairs = errors.items() if isinstance(errors, dict) else enumerate(errors)
    return [(int(i), e) for i, e in pairs if isinstance(e, dict)]


def parse_events(body: Any) -> list[EventInput]:
    """One event or a list of them; every malformed field of every event is named (400)."""
    raw = body if isinstance(body, list) else [body]
    if not raw:
        raise Malformed("send one event or a non-empty list", field="events")
    problems: list[FieldError] = []
    events: list[EventInput] = []
    if all(isinstance(item, dict) for item in raw):
        # One list serializer for the batch: a serializer per event cost most of the endpoint's
        # CPU (its fields are deep-copied at every construction).
        many = EventInputSerializer(data=raw, many=True)
        if many.is_valid():
            return [EventInput(**v) for v in many.validated_data]
        problems = [
            FieldError(f"events[{index}].{name}" if isinstance(body, list) else name, str(m[0]))
            for index, errors in _by_index(many.errors)
            for name, m in errors.items()
        ]
        if problems:
            raise Malformed(problems)
    for index, item in enumerate(raw):  # what the list could not say per event, event by event
        prefix = f"events[{index}]." if isinstance(body, list) else ""
        data = EventInputSerializer(data=item if isinstance(item, dict) else {})
        if not isinstance(item, dict):
            problems.append(FieldError(prefix.rstrip("."), "an event is a JSON object"))
        elif not data.is_valid():
            problems += [
                FieldError(f"{prefix}{name}", str(msgs[0])) for name, msgs in data.errors.items()
            ]
        else:
            events.append(EventInput(**data.validated_data))
    if problems:
        raise Malformed(problems)
    return events


class StockEventsApi(APIView):
    permission_classes = [Operations]

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={
            200: inline_serializer(
                "EventsApplied",
                {"applied": serializers.IntegerField(), "duplicates": serializers.IntegerField()},
            ),
            202: inline_serializer(
                "EventsQueued",
                {"job": serializers.IntegerField(), "status": serializers.CharField()},
            ),
            422: ERRORS,
        },
        summary="Apply one stock event or a list, all or nothing, each once per (source, id)",
        description=f"More than {SYNC_EVENTS} events are queued: 202 with a job to follow at "
        "GET inventory/events/jobs/{id}.",
    )
    def post(self, request: Request) -> Response:
        events = parse_events(request.data)
        if len(events) > SYNC_EVENTS:
            batch = event_batch_queue(events=events)
            audit_note(request, f"stock events queued: {len(events)} as job {batch.pk}")
            return Response({"job": batch.pk, "status": batch.status}, status=202)
        result = stock_events_apply(events=events)
        audit_note(
            request,
            f"stock events applied: {result.applied} applied, {result.duplicates} duplicate",
        )
        return Response({"applied": result.applied, "duplicates": result.duplicates})


class EventBatchApi(APIView):
    permission_classes = [Operations]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        batch = EventBatch.objects.filter(pk=pk).first()
        if batch is None:
            raise NotFound(f"job {pk} does not exist")
        return Response(
            {
                "job": batch.pk,
                "status": batch.status,
                "applied": batch.applied,
                "duplicates": batch.duplicates,
                "errors": batch.errors,
                "events": batch.size,
                "finished_at": batch.finished_at,
            }
        )


class PositionOutput(serializers.ModelSerializer[Position]):
    sku = serializers.CharField(source="item.sku")
    location = serializers.CharField(source="location.code")
    available = serializers.IntegerField()

    class Meta:
        model = Position
        fields = [
            "sku",
            "location",
            "on_hand",
            "reserved",
            "in_transit",
            "damaged",
            "quality_hold",
            "available",
            "updated_at",
        ]


class PositionListApi(generics.ListAPIView[Position]):
    serializer_class = PositionOutput

    @extend_schema(parameters=[OpenApiParameter("sku", str), OpenApiParameter("location", str)])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Position]:
        params = self.request.query_params
        return positions_find(sku=params.get("sku") or "", location=params.get("location") or "")


class AvailabilityFeedApi(APIView):
    """The channel's available-to-sell, only what changed since the cursor (none: everything)."""

    authentication_classes = [ChannelOrStaffTokenAuthentication, SessionAuthentication]
    permission_classes = [ChannelTokenOrRole]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "since",
                {"type": "string", "pattern": "^[0-9]+$"},
                description="The cursor of the last answer; absent: everything.",
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": FEED_MAX_LIMIT},
                description=f"How many items at most (default {FEED_LIMIT}).",
            ),
        ],
        responses={
            200: inline_serializer(
                "AvailabilityFeed",
                {
                    "cursor": serializers.CharField(),
                    "items": inline_serializer(
                        "AvailabilityItem",
                        {
                            "sku": serializers.CharField(),
                            "available": serializers.IntegerField(),
                            "updated_at": serializers.DateTimeField(),
                        },
                        many=True,
                    ),
                },
            ),
        },
    )
    def get(self, request: Request, code: str) -> Response:
        channel = Channel.objects.filter(code=code).first()
        own = request_channel(request)
        if own is not None and (channel is None or own.pk != channel.pk):
            raise exceptions.PermissionDenied("This token is not valid for this channel.")
        if channel is None:
            raise NotFound(f"channel {code!r} does not exist")
        params = request.query_params
        since = query_int(params, "since", default=0, minimum=0, maximum=BIGINT_MAX)
        limit = query_int(params, "limit", default=FEED_LIMIT, minimum=1, maximum=FEED_MAX_LIMIT)
        page = availability_feed(channel, since, limit)
        return Response({"cursor": str(page.cursor), "items": page.items})
