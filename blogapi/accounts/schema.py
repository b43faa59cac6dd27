"""OpenAPI description of our authentication (drf-spectacular extension, loaded in apps.ready)."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Token <key>` with per-device keys."""

    target_class = "blogapi.accounts.authentication.DeviceTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "Per-device key from login or registration, sent as `Token <key>` "
                "(e.g. `Authorization: Token blogapi_…`). Expires after AUTH_TOKEN_TTL, or "
                "AUTH_TOKEN_IDLE_TTL unused."
            ),
        }
