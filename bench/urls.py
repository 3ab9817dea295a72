"""`POST /bench/echo`, the benchmarks' baseline: the same Django middleware, DRF view machinery
and JSON parser as the ingestion endpoints, but no database. Only the echo server
(bench/echo_wsgi.py) routes to it."""

from __future__ import annotations

from typing import Any

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from retailsync.core.parsers import DecimalJSONParser


class EchoApi(APIView):
    """Parse the JSON body like the order endpoint does, answer like a created order."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    parser_classes = [DecimalJSONParser]

    def post(self, request: Request) -> Response:
        request.data  # noqa: B018  (parsing the body is the work being measured)
        return Response({"id": 1, "status": "accepted"}, status=201)


urlpatterns = [path("bench/echo", EchoApi.as_view(), name="bench-echo")]
