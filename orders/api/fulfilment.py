"""Fulfilment endpoints (API.md): shipments and cancellations, by operations staff or by the
order's own channel (its WMS or store system), whose calls are kept like its deliveries."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from retailsync.core.audit import audit_channel
from retailsync.core.auth import (
    ChannelOrStaffTokenAuthentication,
    ChannelTokenOrRole,
    request_channel,
)
from retailsync.core.errors import NotFound
from retailsync.core.models import InboundMessage
from retailsync.core.parsers import body_size
from retailsync.core.schema import ERRORS
from retailsync.core.serializers import StrictSerializer
from retailsync.core.services import inbound_message_answered, inbound_message_store

from ..selectors import order_channel_id, orders_with_details
from ..services import LineRequest, order_cancel, shipment_create
from .ingest import refuse_too_large
from .reads import OrderOutput, ShipmentOutput


class LineRequestInput(StrictSerializer):
    line_id = serializers.IntegerField(required=False)
    sku = serializers.CharField(required=False, allow_blank=False)
    quantity = serializers.IntegerField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("line_id" in attrs) == ("sku" in attrs):
            raise serializers.ValidationError("give either sku or line_id")
        return attrs


def _line_requests(rows: list[dict[str, Any]]) -> list[LineRequest]:
    return [
        LineRequest(quantity=r["quantity"], line_id=r.get("line_id"), sku=r.get("sku", ""))
        for r in rows
    ]


class _FulfilmentEndpoint(APIView):
    """Operations staff, or the order's own channel (its WMS or store system)."""

    authentication_classes = [ChannelOrStaffTokenAuthentication, SessionAuthentication]
    permission_classes = [
        type("Ops", (ChannelTokenOrRole,), {"roles": frozenset({"operations", "admin"})})
    ]
    kind = ""  # what a channel's call is kept as in the inbound message store
    message: InboundMessage | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """A channel's call is kept like each of its deliveries, before anything reads it, and
        audited with the channel as its actor (a person's is audited as theirs)."""
        super().initial(request, *args, **kwargs)
        channel = request_channel(request)
        if channel is None:
            return
        audit_channel(request, channel)
        http, limit = request._request, settings.RETAILSYNC_STAFF_BODY_MAX
        size = body_size(http)
        if size > limit:
            refuse_too_large(request, channel, self.kind, size=size, limit=limit)
        self.message = inbound_message_store(
            channel=channel,
            kind=self.kind,
            body=http.body,
            headers=request.headers,
            correlation_id=http.correlation_id,  # type: ignore[attr-defined]
        )

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.message is not None:
            data = getattr(response, "data", None)
            inbound_message_answered(
                self.message,
                status_code=response.status_code,
                errors=data.get("errors", []) if isinstance(data, dict) else [],
            )
        return response

    def _order_id(self, request: Request, pk: int) -> int:
        owner = order_channel_id(order_id=pk)
        if owner is None:
            raise NotFound(f"order {pk} does not exist")
        channel = request_channel(request)
        if channel is not None and channel.pk != owner:
            raise exceptions.PermissionDenied("This token is not valid for this order's channel.")
        return pk


class OrderShipmentCreateApi(_FulfilmentEndpoint):
    kind = "shipment"

    class ShipmentInput(StrictSerializer):
        location = serializers.CharField(max_length=64)
        lines = LineRequestInput(many=True, allow_empty=False)
        shipped_at = serializers.DateTimeField(required=False)
        tracking = serializers.CharField(required=False, allow_blank=True, default="")
        id = serializers.CharField(
            required=False,
            allow_blank=True,
            default="",
            help_text="The shipment's id in the sending system: a repeat "
            "with the same id changes nothing.",
        )

    @extend_schema(
        request=ShipmentInput,
        responses={201: ShipmentOutput, 200: ShipmentOutput, 409: ERRORS, 422: ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        order_id = self._order_id(request, pk)
        data = self.ShipmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        shipment, created = shipment_create(
            order_id=order_id,
            location=v["location"],
            lines=_line_requests(v["lines"]),
            shipped_at=v.get("shipped_at"),
            tracking=v["tracking"],
            external_id=v["id"],
        )
        return Response(ShipmentOutput(shipment).data, status=201 if created else 200)


class OrderCancelApi(_FulfilmentEndpoint):
    kind = "cancel"

    class CancelInput(StrictSerializer):
        reason = serializers.CharField(required=False, allow_blank=True, default="")
        lines = LineRequestInput(
            many=True,
            required=False,
            help_text="Cancel only these quantities; absent: all not shipped.",
        )

    @extend_schema(request=CancelInput, responses={200: OrderOutput, 409: ERRORS, 422: ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        order_id = self._order_id(request, pk)
        data = self.CancelInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        v = data.validated_data
        order_cancel(
            order_id=order_id, lines=_line_requests(v.get("lines", [])), reason=v["reason"]
        )
        return Response(OrderOutput(orders_with_details().get(pk=order_id)).data)
