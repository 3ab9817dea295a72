"""The OpenAPI schema's shared parts: how to sign in, and the error answers every endpoint gives."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from drf_spectacular.views import SpectacularRedocView
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response


class StaffTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "retailsync.core.auth.StaffTokenAuthentication"
    name = "staffToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <token>` from `manage.py create_user`.",
        }


class ChannelOrStaffTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "retailsync.core.auth.ChannelOrStaffTokenAuthentication"
    name = "channelOrStaffToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <token>`: a staff token, or the token of the order's channel.",
        }


# --- errors -------------------------------------------------------------------------------

ERRORS = OpenApiResponse(
    response=inline_serializer(
        "Errors",
        {
            "errors": inline_serializer(
                "Error",
                {"field": serializers.CharField(), "message": serializers.CharField()},
                many=True,
            )
        },
    ),
    description='{"errors": [{"field", "message"}]}: every problem, each naming its field.',
)

# What any endpoint may answer, whatever it does: declared on every operation by the hook below,
# so a view declares only what is its own (409, 422) and no answer goes undocumented.
COMMON_ERRORS = {
    "400": "Malformed: a body, query parameter or path that cannot be read (NUL, a non-integer "
    "limit, an unknown field); every problem is named.",
    "401": "No credentials, or unknown or revoked ones.",
    "403": "Credentials that may not do this: another channel's token, a missing role.",
    "429": "Too many requests: try again after Retry-After seconds.",
}
PATH_ERRORS = {"404": "Nothing at this path: no such id or code."}
BODY_ERRORS = {
    "413": "The body is larger than this endpoint takes.",
    "415": "A body in a media type this endpoint does not read.",
}
_ERROR_SCHEMAS = {
    "Error": {
        "type": "object",
        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
        "required": ["field", "message"],
    },
    "Errors": {
        "type": "object",
        "properties": {
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/Error"}}
        },
        "required": ["errors"],
    },
}


def declare_common_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: adds the common error answers to every operation."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(_ERROR_SCHEMAS)
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            errors = dict(COMMON_ERRORS)
            if any(p.get("in") == "path" for p in operation.get("parameters", [])):
                errors.update(PATH_ERRORS)
            if "requestBody" in operation:
                errors.update(BODY_ERRORS)
            responses = operation.setdefault("responses", {})
            for status, description in errors.items():
                responses.setdefault(status, {"description": description, "content": content})
    return result


# Redoc's own bundle draws Redocly's logo from their CDN whatever its options say; this policy
# keeps the browser on our host for everything (its styles are injected, its search runs in a
# blob: worker), so the page works, and tells no one, where nothing else can be reached.
REDOC_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "worker-src 'self' blob:; connect-src 'self'; font-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


class RedocView(SpectacularRedocView):
    """/api/redoc/: Redoc from the sidecar's static files, by our template (no web fonts)."""

    template_name = "api/redoc.html"

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = REDOC_POLICY
        return response
