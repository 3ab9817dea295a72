"""OpenAPI descriptions of our authentication, so /api/schema/ tells callers how to sign in."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class StaffTokenScheme(OpenApiAuthenticationExtension):
    target_class = "retailsync.auth.StaffTokenAuthentication"
    name = "staffToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <token>` from `manage.py create_user`.",
        }


class ChannelOrStaffTokenScheme(OpenApiAuthenticationExtension):
    target_class = "retailsync.auth.ChannelOrStaffTokenAuthentication"
    name = "channelOrStaffToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <token>`: a staff token, or the token of the order's channel.",
        }
