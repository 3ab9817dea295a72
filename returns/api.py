"""Return endpoints (API.md): open a return, then one endpoint per transition."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.api import amount
from retailsync.core.auth import channel_authenticate, role_required
from retailsync.core.errors import FieldError, Malformed
from retailsync.core.schema import ERRORS
from retailsync.core.serializers import StrictSerializer
from retailsync.core.services import inbound_message_store

from . import services
from .models import Return, ReturnLine, ReturnReceipt
from .quote import jurisdiction_of, refund_quote
from .refund_messages import channel_refund_message_process, refund_parser_for
from .rules import STAFF, actor_of, policy_for, refusal

Staff = role_required(*STAFF)


class ReturnOutput(serializers.ModelSerializer[Return]):
    lines = serializers.SerializerMethodField()
    refund = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()

    class Meta:
        model = Return
        fields = [
            "id",
            "order",
            "status",
            "currency",
            "lines",
            "refund",
            "exchange_order",
            "external_id",
            "created_at",
            "updated_at",
            "correlation_id",
            "timeline",
        ]

    def get_lines(self, ret: Return) -> list[dict[str, Any]]:
        c = ret.currency
        return [
            {
                "id": line.pk,
                "line_id": line.order_line_id,
                "sku": line.order_line.sku,
                "quantity": line.quantity,
                "reason": line.reason,
                "comment": line.comment,
                "received": line.received,
                "restocked": line.restocked,
                "damaged": line.damaged,
                "quality_hold": line.held,
                "scrapped": line.scrapped,
                "missing": line.missing,
                "replacement_sku": line.replacement_sku,
                "receipts": [
                    {"location": r.location.code, "quantity": r.quantity, "at": r.at}
                    for r in line.receipts.all()
                ],
                "amount": amount(line.amount, c),
                "tax": amount(line.tax, c),
                "restocking_fee": amount(line.restocking_fee, c),
            }
            for line in ret.lines.all()
        ]

    def get_refund(self, ret: Return) -> dict[str, Any]:
        c = ret.currency
        return {
            "amount": amount(ret.refund_amount, c),
            "tax": amount(ret.refund_tax, c),
            "shipping": amount(ret.refund_shipping, c),
            "restocking_fee": amount(ret.restocking_fee, c),
            "method": ret.refund_method,
            "provisional": ret.refund_provisional,
            "tax_reversals": [
                {"jurisdiction": r.jurisdiction, "amount": amount(r.amount, c)}
                for r in ret.tax_reversals.all()
            ],
            "payments": [
                {
                    "method": p.method,
                    "gateway": p.gateway,
                    "amount": amount(p.amount, c),
                    "psp_refund_id": p.psp_refund_id,
                    "status": p.status,
                }
                for p in ret.refunds.all()
            ],
        }

    def get_timeline(self, ret: Return) -> list[dict[str, Any]]:
        return [
            {
                "from": t.from_status,
                "to": t.to_status,
                "by": t.actor_name,
                "at": t.at,
                "note": t.note,
                "correlation_id": t.correlation_id,
            }
            for t in ret.transitions.order_by("at", "pk")
        ]


def returns_with_details() -> QuerySet[Return]:
    return Return.objects.prefetch_related(
        Prefetch("lines", queryset=ReturnLine.objects.select_related("order_line").order_by("pk")),
        Prefetch(
            "lines__receipts",
            queryset=ReturnReceipt.objects.select_related("location").order_by("pk"),
        ),
        "tax_reversals",
        "refunds",
    )


class _Reversal(serializers.Serializer[dict[str, Any]]):
    jurisdiction = serializers.CharField()
    amount = serializers.CharField()


class _QuoteLine(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField()
    line_id = serializers.IntegerField(help_text="The order line.")
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    price = serializers.CharField(help_text="The units at their price before discounts.")
    discount = serializers.CharField(help_text="Their share of the line's discounts.")
    amount = serializers.CharField(help_text="Goods, net of discount, tax excluded.")
    tax = serializers.CharField()
    restocking_fee = serializers.CharField()
    total = serializers.CharField(help_text="amount + tax − restocking_fee")
    tax_reversals = _Reversal(many=True)


class RefundQuoteOutput(serializers.Serializer[dict[str, Any]]):
    """The figures POST refund records, computed by the same code."""

    currency = serializers.CharField()
    method = serializers.CharField()
    lines = _QuoteLine(many=True)
    shipping = serializers.CharField()
    shipping_tax = serializers.CharField()
    goods = serializers.CharField()
    tax = serializers.CharField()
    restocking_fee = serializers.CharField()
    tax_reversals = _Reversal(many=True, help_text="Per jurisdiction, lines and shipping.")
    total = serializers.CharField()
    exchange_credit = serializers.CharField()
    exchange_due = serializers.CharField()
    amount = serializers.CharField(help_text="What goes back to the customer.")
    refusal = serializers.CharField(help_text="Why it cannot be refunded now; empty if it can.")


def quote_as_dict(ret: Return) -> dict[str, Any]:
    q, c = refund_quote(ret), ret.currency
    return {
        "currency": c,
        "method": ret.refund_method,
        "lines": [
            {
                "id": x.line.pk,
                "line_id": x.line.order_line_id,
                "sku": x.line.order_line.sku,
                "quantity": x.line.quantity,
                "price": amount(x.price, c),
                "discount": amount(x.discount, c),
                "amount": amount(x.amount, c),
                "tax": amount(x.tax, c),
                "restocking_fee": amount(x.fee, c),
                "total": amount(x.total, c),
                "tax_reversals": [
                    {"jurisdiction": jurisdiction_of(t), "amount": amount(a, c)}
                    for t, a in x.reversals
                ],
            }
            for x in q.lines
        ],
        "shipping": amount(q.shipping, c),
        "shipping_tax": amount(q.shipping_tax, c),
        "goods": amount(q.goods, c),
        "tax": amount(q.tax, c),
        "restocking_fee": amount(q.fee, c),
        "tax_reversals": [
            {"jurisdiction": j, "amount": amount(a, c)} for j, a in q.by_jurisdiction()
        ],
        "total": amount(q.total, c),
        "exchange_credit": amount(q.exchange_credit, c),
        "exchange_due": amount(q.exchange_due, c),
        "amount": amount(q.amount, c),
        "refusal": refusal(ret, "refund", list(ret.lines.all()), policy_for(ret.order)),
    }


class LineRef(StrictSerializer):
    line_id = serializers.IntegerField(required=False)
    sku = serializers.CharField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("line_id" in attrs) == ("sku" in attrs):
            raise serializers.ValidationError("give either sku or line_id")
        return attrs


class LineInput(LineRef):
    quantity = serializers.IntegerField()
    reason = serializers.CharField(max_length=40, required=False, default="")
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    replacement_sku = serializers.CharField(required=False, allow_blank=True, default="")


class ReturnListCreateApi(generics.ListAPIView[Return]):
    serializer_class = ReturnOutput

    def get_permissions(self) -> list[BasePermission]:
        return [Staff()]

    class ReturnInput(StrictSerializer):
        order = serializers.IntegerField()
        lines = LineInput(many=True, allow_empty=False)
        refund_method = serializers.ChoiceField(
            choices=Return.Method.choices, default=Return.Method.ORIGINAL
        )

    def get_queryset(self) -> QuerySet[Return]:
        qs = returns_with_details().order_by("-created_at")
        if status := self.request.query_params.get("status"):
            qs = qs.filter(status=status)
        return qs

    @extend_schema(request=ReturnInput, responses={201: ReturnOutput, 422: ERRORS})
    def post(self, request: Request) -> Response:
        data = self.ReturnInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        missing = [
            FieldError(f"lines[{i}].reason", "is required")
            for i, line in enumerate(v["lines"])
            if not line["reason"]
        ]
        if missing:
            raise Malformed(missing)
        ret = services.return_request(
            order_id=v["order"],
            actor=actor_of(request.user),
            refund_method=v["refund_method"],
            lines=[
                services.LineInput(
                    quantity=x["quantity"],
                    reason=x["reason"],
                    line_id=x.get("line_id"),
                    sku=x.get("sku", ""),
                    comment=x["comment"],
                    replacement_sku=x["replacement_sku"],
                )
                for x in v["lines"]
            ],
        )
        return Response(ReturnOutput(returns_with_details().get(pk=ret.pk)).data, status=201)


class ReturnDetailApi(generics.RetrieveAPIView[Return]):
    serializer_class = ReturnOutput
    permission_classes = [Staff]

    def get_queryset(self) -> QuerySet[Return]:
        return returns_with_details()


def transition_outcome(ret: Return, action: str) -> str:
    """What a transition did, for its audit record: `refund approved for RMA-4: 28.42 USD`."""
    if action == "refund":
        return (
            f"refund approved for {ret}: {amount(ret.refund_amount, ret.currency)} "
            f"{ret.currency} ({ret.get_refund_method_display()})"
        )
    return f"{action} {ret}: now {ret.status}"


class ChannelRefundApi(APIView):
    """A refund the channel made (Shopify `refunds/create`, or canonical JSON): linked to its
    return or opening one, once per refund id. The raw body is kept like every delivery."""

    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes: list[type[BasePermission]] = []

    def get_authenticate_header(self, request: Request) -> str:
        return 'Token realm="channel"'

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={201: ReturnOutput, 200: ReturnOutput, 422: ERRORS},
    )
    def post(self, request: Request, code: str) -> Response:
        channel = channel_authenticate(request._request, code)
        refund_parser_for(channel)  # a source that reports no refunds: 400, nothing kept
        message = inbound_message_store(
            channel=channel,
            kind="refund",
            body=request._request.body,
            headers=request.headers,
            correlation_id=request._request.correlation_id,  # type: ignore[attr-defined]
        )
        ret, created = channel_refund_message_process(message=message)
        return Response(
            ReturnOutput(returns_with_details().get(pk=ret.pk)).data, status=201 if created else 200
        )
