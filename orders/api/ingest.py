"""Ingestion endpoints (API.md): a channel posts one order, or a batch, in its own format."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from retailsync.core.auth import channel_authenticate
from retailsync.core.errors import TooLarge, error_body
from retailsync.core.metrics import orders_ingested
from retailsync.core.models import Channel, InboundMessage
from retailsync.core.parsers import body_size
from retailsync.core.schema import ERRORS
from retailsync.core.services import inbound_message_too_large

from ..adapters import deliveries_for
from ..selectors import order_status
from ..services import REJECTED, IngestOutcome, order_receive


class IngestOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    status = serializers.CharField(help_text="The order's status.")
    result = serializers.ChoiceField(choices=["created", "duplicate", "updated"])
    correlation_id = serializers.CharField()


class _ChannelEndpoint(APIView):
    """Authenticates the channel from the path itself: a token, or Shopify's HMAC over the raw
    body, checked before anything parses the body."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    kind = "order"
    body_max = "RETAILSYNC_ORDER_BODY_MAX"  # the setting with this endpoint's size limit

    def get_authenticate_header(self, request: Request) -> str:
        return 'Token realm="channel"'

    def _channel(self, request: Request, code: str) -> Channel:
        """The sending channel, authenticated; a delivery over this endpoint's size limit is
        refused (413), kept as far as it was read when its channel is known."""
        http, limit = request._request, getattr(settings, self.body_max)
        size = body_size(http)
        if size > limit and not http.META.get("HTTP_AUTHORIZATION"):
            # Signed, not token: a body we will not read whole cannot prove who sent it.
            raise TooLarge(size=size, limit=limit)
        channel = channel_authenticate(http, code)
        if size > limit:
            refuse_too_large(request, channel, self.kind, size=size, limit=limit)
        return channel

    def _receive(
        self, request: Request, channel: Channel
    ) -> tuple[InboundMessage, list[IngestOutcome]]:
        http = request._request
        message, outcomes = order_receive(
            channel=channel,
            kind=self.kind,
            body=http.body,
            headers=request.headers,
            correlation_id=http.correlation_id,  # type: ignore[attr-defined]
        )
        orders_ingested(channel=channel.code, results=[o.status for o in outcomes])
        return message, outcomes


def refuse_too_large(
    request: Request, channel: Channel, kind: str, *, size: int, limit: int
) -> NoReturn:
    """413, keeping what is kept of every refused delivery: the message (its first `limit`
    bytes, read no further, flagged as truncated) and an exception for a person."""
    inbound_message_too_large(
        channel=channel,
        kind=kind,
        head=request._request.read(limit),
        size=size,
        headers=request.headers,
        correlation_id=request._request.correlation_id,  # type: ignore[attr-defined]
    )
    raise TooLarge(size=size, limit=limit)


class OrderIngestApi(_ChannelEndpoint):
    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={201: IngestOutput, 200: IngestOutput, 422: ERRORS},
        summary="Receive one order in the channel's own format",
        description="Shopify order JSON, Amazon {Order, OrderItems}, Square order, Adobe Commerce "
        "sales order, WooCommerce order, or canonical JSON. The same message again answers 200 "
        "with the same id; an update of a known order answers 200 with result 'updated'. "
        f"A body over {settings.RETAILSYNC_ORDER_BODY_MAX} bytes answers 413; its first bytes "
        "are kept, flagged as truncated, and an exception is queued.",
    )
    def post(self, request: Request, code: str) -> Response:
        channel = self._channel(request, code)
        if deliveries_for(channel.source).is_ping(
            request.content_type or "", request._request.body
        ):
            return Response({"status": "ping received"}, status=200)
        message, [outcome] = self._receive(request, channel)
        if outcome.status == REJECTED:
            return _rejection(outcome)
        assert outcome.order_id is not None  # every outcome but a rejection names its order
        status = outcome.order_status or order_status(order_id=outcome.order_id)
        return Response(
            {
                "id": outcome.order_id,
                "status": status,
                "result": outcome.status,
                "correlation_id": message.correlation_id,
            },
            status=outcome.http_status,
        )


def _rejection(outcome: IngestOutcome) -> Response:
    return Response(error_body([e.as_dict() for e in outcome.errors]), status=outcome.http_status)


# `errors` would shadow Serializer.errors on a declared class: describe it inline.
BatchResultOutput = inline_serializer(
    "BatchResult",
    {
        "index": serializers.IntegerField(),
        "status": serializers.ChoiceField(choices=["created", "duplicate", "updated", "rejected"]),
        "id": serializers.IntegerField(allow_null=True),
        "errors": serializers.ListField(child=serializers.DictField()),
    },
)


class OrderBatchIngestApi(_ChannelEndpoint):
    kind = "order_batch"
    body_max = "RETAILSYNC_BATCH_BODY_MAX"

    @extend_schema(
        request=inline_serializer(
            "OrderBatch",
            {"orders": serializers.ListField(child=serializers.DictField(), max_length=500)},
        ),
        responses={
            200: inline_serializer(
                "OrderBatchResult",
                {
                    "results": serializers.ListField(child=BatchResultOutput),
                    "correlation_id": serializers.CharField(),
                },
            ),
        },
        summary="Receive up to 500 orders in the channel's own format",
        description=f"A body over {settings.RETAILSYNC_BATCH_BODY_MAX} bytes answers 413; its "
        "first bytes are kept, flagged as truncated, and an exception is queued.",
    )
    def post(self, request: Request, code: str) -> Response:
        message, outcomes = self._receive(request, self._channel(request, code))
        if outcomes[0].whole_message:
            return _rejection(outcomes[0])
        return Response(
            {
                "results": [
                    {
                        "index": o.index,
                        "status": o.status,
                        "id": o.order_id,
                        "errors": [e.as_dict() for e in o.errors],
                    }
                    for o in outcomes
                ],
                "correlation_id": message.correlation_id,
            }
        )
