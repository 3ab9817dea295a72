"""The return transitions (API.md): POST returns/{id}/{authorize,receive,inspect,refund,
close,reject,cancel}, each one operation with its own body (a StrictSerializer: unknown keys are
400 by name) and its examples in the schema; GET returns/{id}/refund is the quote."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from retailsync.core.audit import audit_note
from retailsync.core.auth import role_required
from retailsync.core.schema import ERRORS
from retailsync.core.serializers import StrictSerializer

from . import services
from .api import (
    LineRef,
    RefundQuoteOutput,
    ReturnOutput,
    Staff,
    quote_as_dict,
    returns_with_details,
    transition_outcome,
)
from .models import Return
from .rules import actor_of, roles_for
from .services import Actor


class ReturnNoInput(StrictSerializer):
    """authorize and close take no body."""


# An empty serializer has no schema to show: say in so many words that the body is empty.
NO_BODY = {
    "application/json": {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
        "description": "No body (or an empty object): any field is refused with 400.",
    }
}


class ReturnReceiptLineInput(LineRef):
    quantity = serializers.IntegerField(min_value=1)


class ReturnReceiveInput(StrictSerializer):
    location = serializers.CharField(max_length=64, help_text="Where the goods arrived.")
    lines = ReturnReceiptLineInput(
        many=True, required=False, help_text="No lines: everything still expected."
    )


class ReturnInspectionLineInput(LineRef):
    """One line's decision, in either form: a disposition and how many units get it, or
    counts per disposition."""

    quantity = serializers.IntegerField(
        min_value=1, required=False, help_text="With `disposition`: how many units get it."
    )
    disposition = serializers.ChoiceField(choices=services.DISPOSITIONS, required=False)
    restock = serializers.IntegerField(min_value=0, required=False)
    damaged = serializers.IntegerField(min_value=0, required=False)
    quality_hold = serializers.IntegerField(min_value=0, required=False)
    scrap = serializers.IntegerField(min_value=0, required=False)
    missing = serializers.IntegerField(min_value=0, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        counts = [k for k in services.DISPOSITIONS if k in attrs]
        per_line = "disposition" in attrs or "quantity" in attrs
        if counts and per_line:
            raise serializers.ValidationError(
                "give either a disposition and a quantity, or counts per disposition "
                f"({', '.join(services.DISPOSITIONS)}), not both"
            )
        if not (counts or per_line):
            raise serializers.ValidationError(
                "give a disposition and a quantity, or counts per disposition"
            )
        if per_line and "quantity" not in attrs:
            raise serializers.ValidationError({"quantity": "is required with a disposition"})
        if per_line and "disposition" not in attrs:
            raise serializers.ValidationError({"disposition": "is required with a quantity"})
        return attrs

    @staticmethod
    def decision(x: dict[str, Any]) -> services.Disposition:
        counts = {x["disposition"]: x["quantity"]} if "disposition" in x else x
        return services.Disposition.of(counts, line_id=x.get("line_id"), sku=x.get("sku", ""))


class ReturnInspectInput(StrictSerializer):
    location = serializers.CharField(
        max_length=64,
        required=False,
        default="",
        help_text="Where the units are; needed only when they wait in more than one place.",
    )
    lines = ReturnInspectionLineInput(many=True, required=False, default=list)


class ReturnRefundInput(StrictSerializer):
    method = serializers.ChoiceField(choices=Return.Method.choices, required=False, default="")
    psp_refund_id = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    expected_amount = serializers.DecimalField(
        max_digits=19,
        decimal_places=4,
        required=False,
        help_text="The amount of the quote (GET) the approver saw: if the refund has changed "
        "since, nothing is refunded (409).",
    )


class ReturnNoteInput(StrictSerializer):
    note = serializers.CharField(max_length=2000, help_text="Why: kept in the timeline.")


def _example(name: str, value: dict[str, Any]) -> OpenApiExample:
    return OpenApiExample(name, value=value, request_only=True)


_ERRORS = {400: ERRORS, 401: ERRORS, 403: ERRORS, 404: ERRORS, 409: ERRORS, 422: ERRORS}


View = TypeVar("View", bound=APIView)


def _transition(
    summary: str, body: type[StrictSerializer], *examples: OpenApiExample
) -> Callable[[type[View]], type[View]]:
    return extend_schema_view(
        post=extend_schema(
            summary=summary,
            request=NO_BODY if body is ReturnNoInput else body,
            examples=list(examples) or [_example("No body", {})],
            responses={200: ReturnOutput, **_ERRORS},
        )
    )


class ReturnTransitionApi(APIView):
    """POST returns/{id}/{action}: parse the action's own body, make the transition."""

    action = ""
    Input: type[StrictSerializer] = ReturnNoInput

    def get_permissions(self) -> list[BasePermission]:
        return [role_required(*roles_for(self.action))()]

    def post(self, request: Request, pk: int) -> Response:
        data = self.Input(data=request.data or {})
        data.is_valid(raise_exception=True)
        self.perform(pk, data.validated_data, actor_of(request.user))
        ret = returns_with_details().get(pk=pk)
        audit_note(request, transition_outcome(ret, self.action))
        return Response(ReturnOutput(ret).data)

    def perform(self, pk: int, v: dict[str, Any], user: Actor) -> None:
        raise NotImplementedError


@_transition("Authorize a requested return", ReturnNoInput)
class ReturnAuthorizeApi(ReturnTransitionApi):
    action = "authorize"

    def perform(self, pk: int, v: dict[str, Any], user: Actor) -> None:
        services.return_authorize(return_id=pk, actor=user)


@_transition(
    "Receive goods at a location",
    ReturnReceiveInput,
    _example("One parcel", {"location": "STORE1", "lines": [{"sku": "SCARF", "quantity": 1}]}),
    _example("Everything still expected", {"location": "WH1"}),
)
class ReturnReceiveApi(ReturnTransitionApi):
    action = "receive"
    Input = ReturnReceiveInput

    def perform(self, pk: int, v: dict[str, Any], user: Actor) -> None:
        services.return_receive(
            return_id=pk,
            actor=user,
            location=v["location"],
            lines=[
                services.ReceiptLine(x["quantity"], x.get("line_id"), x.get("sku", ""))
                for x in v.get("lines", [])
            ],
        )


@_transition(
    "Decide the received units' fate",
    ReturnInspectInput,
    _example(
        "A disposition per line",
        {
            "lines": [
                {"sku": "SCARF", "quantity": 1, "disposition": "restock"},
                {"line_id": 4182, "quantity": 1, "disposition": "damaged"},
            ]
        },
    ),
    _example(
        "Counts per disposition, at a location",
        {"location": "WH1", "lines": [{"sku": "JACKET", "restock": 1, "scrap": 1}]},
    ),
)
class ReturnInspectApi(ReturnTransitionApi):
    action = "inspect"
    Input = ReturnInspectInput

    def perform(self, pk: int, v: dict[str, Any], user: Actor) -> None:
        services.return_inspect(
            return_id=pk,
            actor=user,
            location=v["location"],
            lines=[ReturnInspectionLineInput.decision(x) for x in v["lines"]],
        )


@_transition(
    "Approve the refund",
    ReturnRefundInput,
    _example("The amount quoted", {"method": "original", "expected_amount": "19.17"}),
    _example("Store credit", {"method": "store_credit"}),
)
@extend_schema_view(
    get=extend_schema(
        summary="What the refund would give back now",
        responses={200: RefundQuoteOutput, 401: ERRORS, 403: ERRORS, 404: ERRORS},
    )
)
class ReturnRefundApi(ReturnTransitionApi):
    action = "refund"
    Input = ReturnRefundInput

    def get_permissions(self) -> list[BasePermission]:
        return [Staff()] if self.request.method == "GET" else super().get_permissions()

    def get(self, request: Request, pk: int) -> Response:
        ret = get_object_or_404(Return.objects.select_related("order"), pk=pk)
        return Response(RefundQuoteOutput(quote_as_dict(ret)).data)

    def perform(self, pk: int, v: dict[str, Any], user: Actor) -> None:
        services.return_refund(
            return_id=pk,
            actor=user,
            method=v["method"],
            psp_refund_id=v["psp_refund_id"],
            expected_amount=v.get("expected_amount"),
        )


@_transition("Close a refunded return", ReturnNoInput)
class ReturnCloseApi(ReturnTransitionApi):
    action = "close"

    def perform(self, pk: int, v: dict[str, Any], user: Actor) -> None:
        services.return_close(return_id=pk, actor=user)


@_transition(
    "Reject a return, saying why",
    ReturnNoteInput,
    _example("Outside policy", {"note": "Worn and washed; tags removed."}),
)
class ReturnRejectApi(ReturnTransitionApi):
    action = "reject"
    Input = ReturnNoteInput

    def perform(self, pk: int, v: dict[str, Any], user: Actor) -> None:
        services.return_reject(return_id=pk, actor=user, note=v["note"])


@_transition(
    "Cancel a return before its goods arrive, saying why",
    ReturnNoteInput,
    _example("The customer keeps it", {"note": "Customer called: keeping the scarf."}),
)
class ReturnCancelApi(ReturnTransitionApi):
    action = "cancel"
    Input = ReturnNoteInput

    def perform(self, pk: int, v: dict[str, Any], user: Actor) -> None:
        services.return_cancel(return_id=pk, actor=user, note=v["note"])


TRANSITIONS: dict[str, type[ReturnTransitionApi]] = {
    view.action: view
    for view in (
        ReturnAuthorizeApi,
        ReturnReceiveApi,
        ReturnInspectApi,
        ReturnRefundApi,
        ReturnCloseApi,
        ReturnRejectApi,
        ReturnCancelApi,
    )
}
