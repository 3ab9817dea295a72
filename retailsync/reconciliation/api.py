"""`GET /api/v1/reconciliation/` (finance): the dashboard's figures as JSON (API.md)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from journals.services.periods import PERIOD
from retailsync.core.auth import role_required
from retailsync.core.errors import FieldError, Malformed
from retailsync.core.money import quantize
from retailsync.core.schema import ERRORS

from .figures import FIGURES, Period, Scope, figures_read


class ReconciliationQuery(serializers.Serializer[Any]):
    period = serializers.RegexField(PERIOD.pattern)
    channel = serializers.SlugField(required=False, default="")
    legal_entity = serializers.CharField(required=False, default="", max_length=32)


class ReconciliationApi(APIView):
    permission_classes = [role_required("finance")]

    @extend_schema(
        parameters=[
            OpenApiParameter("period", OpenApiTypes.STR, required=True, description="YYYY-MM"),
            OpenApiParameter("channel", OpenApiTypes.STR),
            OpenApiParameter("legal_entity", OpenApiTypes.STR),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: ERRORS},
    )
    def get(self, request: Request) -> Response:
        unknown = sorted(set(request.query_params) - {"period", "channel", "legal_entity"})
        if unknown:
            raise Malformed([FieldError(name, "unknown parameter") for name in unknown])
        query = ReconciliationQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        scope = Scope(Period.month(values["period"]), values["channel"], values["legal_entity"])
        rows = []
        for row in figures_read(scope):
            c = row.currency
            rows.append(
                {
                    "legal_entity": row.legal_entity,
                    "channel": row.channel,
                    "currency": c,
                    **{
                        name: f"{quantize(row.figures[name], c):f}"
                        for name in FIGURES
                        if name in row.figures
                    },
                    "variances": {k: f"{quantize(v, c):f}" for k, v in row.variances.items()},
                }
            )
        return Response({"period": values["period"], "rows": rows})
