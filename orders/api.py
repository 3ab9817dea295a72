"""Order endpoints (API.md): channel ingestion, single and batch; staff reads; fulfilment."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NoReturn

import django_filters
from django.conf import settings
from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, generics, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from retailsync.audit import audit_channel
from retailsync.auth import (
    ChannelOrStaffTokenAuthentication,
    ChannelTokenOrRole,
    channel_authenticate,
    request_channel,
)
from retailsync.errors import NotFound, TooLarge, error_body
from retailsync.models import Channel, InboundMessage
from retailsync.money import quantize
from retailsync.parsers import body_size
from retailsync.schema import ERRORS
from retailsync.serializers import StrictSerializer
from retailsync.services import (
    inbound_message_answered,
    inbound_message_store,
    inbound_message_too_large,
)

from .models import Order, OrderLine, Shipment, TaxLine
from .services import (
    REJECTED,
    IngestOutcome,
    LineRequest,
    order_cancel,
    order_receive,
    shipment_create,
)


def amount(value: Decimal | None, currency: str) -> str | None:
    return None if value is None else f"{quantize(value, currency):f}"


def unit_amount(value: Decimal, currency: str) -> str:
    """A unit price keeps sub-cent precision (Amazon's 10.00 for 3 is 3.3333 each)."""
    rounded = quantize(value, currency)
    return f"{rounded:f}" if rounded == value else f"{value.normalize():f}"


# --- ingestion ------------------------------------------------------------------------------


class IngestOutput(serializers.Serializer):
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

    def _receive(self, request: Request, code: str) -> tuple[InboundMessage, list[IngestOutcome]]:
        http, limit = request._request, getattr(settings, self.body_max)
        size = body_size(http)
        if size > limit and not http.META.get("HTTP_AUTHORIZATION"):
            # Signed, not token: a body we will not read whole cannot prove who sent it.
            raise TooLarge(size=size, limit=limit)
        channel = channel_authenticate(http, code)
        if size > limit:
            _refuse_too_large(request, channel, self.kind, size=size, limit=limit)
        return order_receive(
            channel=channel,
            kind=self.kind,
            body=http.body,
            headers=request.headers,
            correlation_id=http.correlation_id,  # type: ignore[attr-defined]
        )


def _refuse_too_large(
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


def _is_woocommerce_ping(request: Request) -> bool:
    # WooCommerce pings a new webhook with a form body `webhook_id=N`: it only wants a 200.
    return (request.content_type or "").startswith(
        "application/x-www-form-urlencoded"
    ) and request._request.body.startswith(b"webhook_id=")


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
        if _is_woocommerce_ping(request):
            channel_authenticate(request._request, code)
            return Response({"status": "ping received"}, status=200)
        message, [outcome] = self._receive(request, code)
        if outcome.status == REJECTED:
            return _rejection(outcome)
        assert outcome.order_id is not None  # every outcome but a rejection names its order
        status = outcome.order_status or (
            Order.objects.filter(pk=outcome.order_id).values_list("status", flat=True).get()
        )
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
        message, outcomes = self._receive(request, code)
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


# --- reads ----------------------------------------------------------------------------------


class OrderFilter(django_filters.FilterSet):
    channel = django_filters.CharFilter(field_name="channel__code", label="Channel")
    status = django_filters.ChoiceFilter(choices=Order.Status.choices, label="Status")
    placed_after = django_filters.IsoDateTimeFilter(field_name="placed_at", lookup_expr="gte")
    placed_before = django_filters.IsoDateTimeFilter(field_name="placed_at", lookup_expr="lt")
    placed_date = django_filters.DateFilter(field_name="placed_at", lookup_expr="date")
    external_id = django_filters.CharFilter()
    sku = django_filters.CharFilter(field_name="lines__sku", distinct=True)

    class Meta:
        model = Order
        fields = ["channel", "status", "external_id"]


class OrderOutput(serializers.ModelSerializer):
    channel: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    lines = serializers.SerializerMethodField()
    totals = serializers.SerializerMethodField()
    tax_lines = serializers.SerializerMethodField()
    shipping_lines = serializers.SerializerMethodField()
    payments = serializers.SerializerMethodField()
    shipments = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "channel",
            "external_id",
            "order_number",
            "currency",
            "status",
            "channel_status",
            "placed_at",
            "prices_include_tax",
            "lines",
            "totals",
            "tax_lines",
            "shipping_lines",
            "payments",
            "shipments",
            "fulfilment_location",
            "customer_email",
            "correlation_id",
            "metadata",
            "created_at",
            "updated_at",
            "cancelled_at",
        ]

    def get_lines(self, order: Order) -> list[dict[str, Any]]:
        c = order.currency
        return [
            {
                "id": line.pk,
                "external_id": line.external_id,
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": unit_amount(line.unit_price, c),
                "discount": amount(line.discount, c),
                "tax": amount(line.tax, c),
                "total": amount(line.total, c),
                "quantity_shipped": line.quantity_shipped,
                "quantity_cancelled": line.quantity_cancelled,
                "is_gift_card": line.is_gift_card,
            }
            for line in order.lines.all()
        ]

    def get_totals(self, order: Order) -> dict[str, str | None]:
        c = order.currency
        return {
            name: amount(getattr(order, name), c)
            for name in ("subtotal", "discount", "shipping", "fees", "tax", "total")
        }

    def get_tax_lines(self, order: Order) -> list[dict[str, Any]]:
        return [
            {
                "target": t.target,
                "line_id": t.line_id,
                "title": t.title,
                "jurisdiction": t.jurisdiction,
                "rate": None if t.rate is None else f"{t.rate.normalize():f}",
                "amount": amount(t.amount, order.currency),
                "provider_reference": t.provider_reference,
                "collected_by_channel": t.collected_by_channel,
            }
            for t in order.tax_lines.all()
        ]

    def get_shipping_lines(self, order: Order) -> list[dict[str, Any]]:
        return [
            {
                "title": s.title,
                "code": s.code,
                "amount": amount(s.amount, order.currency),
                "discount": amount(s.discount, order.currency),
                "tax": amount(s.tax, order.currency),
            }
            for s in order.shipping_lines.all()
        ]

    def get_payments(self, order: Order) -> list[dict[str, Any]]:
        return [
            {
                "gateway": p.gateway,
                "kind": p.kind,
                "method": p.method,
                "reference": p.reference,
                "currency": p.currency,
                "amount": amount(p.amount, p.currency),
                "authorized_amount": amount(p.authorized_amount, p.currency),
                "captured_amount": amount(p.captured_amount, p.currency),
            }
            for p in order.payments.all()
        ]

    def get_shipments(self, order: Order) -> list[dict[str, Any]]:
        return [ShipmentOutput(s).data for s in order.shipments.all()]


class ShipmentOutput(serializers.ModelSerializer):
    lines = serializers.SerializerMethodField()

    class Meta:
        model = Shipment
        fields = [
            "id",
            "external_id",
            "location",
            "shipped_at",
            "tracking",
            "lines",
            "correlation_id",
        ]

    def get_lines(self, shipment: Shipment) -> list[dict[str, Any]]:
        return [
            {"line_id": sl.line_id, "sku": sl.line.sku, "quantity": sl.quantity}
            for sl in shipment.lines.all()
        ]


def orders_with_details() -> QuerySet[Order]:
    return Order.objects.select_related("channel").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("position")),
        Prefetch("tax_lines", queryset=TaxLine.objects.order_by("pk")),
        "shipping_lines",
        "payments",
        Prefetch(
            "shipments", queryset=Shipment.objects.order_by("pk").prefetch_related("lines__line")
        ),
    )


class OrderListApi(generics.ListAPIView):
    serializer_class = OrderOutput
    filterset_class = OrderFilter

    def get_queryset(self) -> QuerySet[Order]:
        return orders_with_details().order_by("-placed_at", "-pk")


class OrderDetailApi(generics.RetrieveAPIView):
    serializer_class = OrderOutput

    def get_queryset(self) -> QuerySet[Order]:
        return orders_with_details()


# --- fulfilment -----------------------------------------------------------------------------


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
            _refuse_too_large(request, channel, self.kind, size=size, limit=limit)
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
        owner = Order.objects.filter(pk=pk).values_list("channel_id", flat=True).first()
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
