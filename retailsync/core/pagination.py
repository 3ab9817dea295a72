"""The one pagination of every list endpoint: `limit` (1 to 500, default 50) and `offset`.

A limit past the maximum, a negative or non-integer limit or offset is a 400 naming the
parameter, not a silent clamp: a caller that asked for 100,000 rows learns at once that pages
stop at 500 (and does not wait for 100,000 rows to be rendered).
"""

from __future__ import annotations

from typing import Any

from rest_framework import pagination
from rest_framework.request import Request

from .guards import BIGINT_MAX, query_int

MAX_LIMIT = 500


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    max_limit = MAX_LIMIT
    limit_query_description = f"How many results to return: 1 to {MAX_LIMIT}."
    offset_query_description = "How many results to skip."

    def get_limit(self, request: Request) -> int:
        return query_int(
            request.query_params,
            self.limit_query_param,
            default=self.default_limit or MAX_LIMIT,
            minimum=1,
            maximum=MAX_LIMIT,
        )

    def get_offset(self, request: Request) -> int:
        return query_int(
            request.query_params, self.offset_query_param, default=0, minimum=0, maximum=BIGINT_MAX
        )

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": MAX_LIMIT},
            self.offset_query_param: {"minimum": 0, "maximum": BIGINT_MAX},
        }
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"].update(bounds[parameter["name"]])
        return parameters
