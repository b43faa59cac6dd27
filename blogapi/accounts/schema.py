"""OpenAPI description of our authentication and account endpoints: schemes, answers, examples.

The authentication extensions register themselves when apps.ready imports this module; the rest
is used by the `@extend_schema` decorators in views.py.
"""

from typing import Any

from django.conf import settings
from drf_spectacular.authentication import BasicScheme, SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    inline_serializer,
)
from rest_framework import serializers

from blogapi.accounts.serializers import (
    CredentialOutputSerializer,
    JwtOutputSerializer,
    TokenOutputSerializer,
)
from blogapi.accounts.services.deletion import LAST_SUPERUSER
from blogapi.accounts.services.email_change import INCORRECT_PASSWORD, SAME_ADDRESS
from blogapi.accounts.services.password import BAD_LINK, BAD_LINK_FIELD
from blogapi.core.schema import ERROR, FIELD_ERRORS


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


class JwtScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Bearer <access JWT>` (AUTH_JWT=true), and its cookie."""

    target_class = "blogapi.accounts.authentication.JwtAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                "Access token from login, registration or token/refresh/, valid "
                "AUTH_JWT_ACCESS_TTL (5 minutes); refused at once when its sign-in is revoked. "
                "With AUTH_JWT_COOKIES it also comes as the HttpOnly `__Host-blogapi-access` "
                "cookie; then unsafe methods need `X-CSRFToken`."
            ),
        }


class SessionCookieScheme(SessionScheme):
    """drf-spectacular's cookie scheme, plus where the cookie comes from and the CSRF rule."""

    priority = 0

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            **super().get_security_definition(auto_schema),
            "description": (
                "The browsable API's session (`/api-auth/login/`, or an HTML-form login or "
                "signup, which must itself pass the CSRF check: token from "
                "`GET /api/v1/dj-rest-auth/csrf/`). POST, PUT, PATCH and DELETE also need the "
                "`X-CSRFToken` header (from the `csrftoken` cookie), else 403. Expires after "
                "AUTH_SESSION_IDLE_TTL unused, and SESSION_COOKIE_AGE after the login."
            ),
        }


class BasicCredentialsScheme(BasicScheme):
    """drf-spectacular's Basic scheme, plus the setting that enables it and its rate limits."""

    target_class = "blogapi.accounts.authentication.BasicCredentialsAuthentication"
    priority = 0

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            **super().get_security_definition(auto_schema),
            "description": (
                "Only with AUTH_BASIC_ENABLED=true. Each request checks the password (one "
                "Argon2id hash) under the login rate limits: a wrong one counts toward the "
                "account's and the IP's lock (then 429), a right one costs no budget."
            ),
        }


DetailSerializer = inline_serializer("Detail", {"detail": serializers.CharField()})
CsrfTokenSerializer = inline_serializer("CsrfToken", {"csrf_token": serializers.CharField()})
# What a completed login answers: a per-device key, or with AUTH_JWT dj-rest-auth's JWT shape.
SignedInSerializer = JwtOutputSerializer if settings.AUTH_JWT else TokenOutputSerializer
# Registration answers that, or (mandatory verification) only that a mail was sent.
RegisteredSerializer = PolymorphicProxySerializer(
    component_name="Registered",
    serializers=[SignedInSerializer, DetailSerializer],
    resource_type_field_name=None,
)

EXAMPLE_PASSWORD = "correct horse battery staple"  # noqa: S105 - documentation
EXAMPLE_KEY = "blogapi_Zx3vQ0m9bW1kR5tY7uI2oP4aS6dF8gH0jK3lL5zX7cV"
EXAMPLE_JWT = {
    "access": "eyJhbGciOiJIUzI1NiIsImtpZCI6IjNmMmE5YzE0ZDBiNzg4ZTEiLCJ0eXAiOiJKV1QifQ"
    ".eyJzdWIiOiIxIn0.c2ln",
    "refresh": "blogapi_rt_Qm9vZ2llV29vZ2llQm9vZ2llV29vZ2llQm9vZ2llV29vZ2ll",
    "access_expiration": "2026-12-05T18:05:00Z",
    "refresh_expiration": "2026-12-12T18:00:00Z",
    "user": {
        "pk": 1,
        "username": "alice",
        "email": "alice@example.com",
        "first_name": "",
        "last_name": "",
    },
}
if settings.AUTH_JWT_COOKIES:
    del EXAMPLE_JWT["refresh"]
SIGNED_IN = (
    ("JWT", EXAMPLE_JWT, "A new sign-in: access token, refresh token, user")
    if settings.AUTH_JWT
    else ("Key", {"key": EXAMPLE_KEY}, "A new key for this device, shown once")
)


def _request(name: str, value: dict[str, Any], summary: str = "") -> OpenApiExample:
    return OpenApiExample(name, value=value, summary=summary, request_only=True)


def _response(status: int, name: str, value: Any, summary: str = "") -> OpenApiExample:
    return OpenApiExample(
        name, value=value, summary=summary, response_only=True, status_codes=[status]
    )


LOGIN_EXAMPLES = [
    _request(
        "With a username",
        {"username": "alice", "password": EXAMPLE_PASSWORD, "device": "Alice's phone"},
        "Log in from an app, naming the device",
    ),
    _request("By address", {"email": "alice@example.com", "password": EXAMPLE_PASSWORD}),
    _response(200, *SIGNED_IN),
]

REGISTER_EXAMPLES = [
    _request(
        "New account",
        {
            "username": "alice",
            "email": "alice@example.com",
            "password1": EXAMPLE_PASSWORD,
            "password2": EXAMPLE_PASSWORD,
        },
    ),
    _response(201, *SIGNED_IN),
    _response(
        201,
        "Verification sent",
        {"detail": "Verification e-mail sent."},
        "With ACCOUNT_EMAIL_VERIFICATION=mandatory: confirm the address, then log in",
    ),
]

CSRF_TOKEN_EXAMPLES = [
    _response(
        200,
        "Token",
        {"csrf_token": "p8Yq0VwL3nZk2RfT6uXb9sMdC4hJ7aEgK1oN5iWy0QvB3tLx8zUc2rGm6eHjS9fD"},
        "Send it as X-CSRFToken (or csrfmiddlewaretoken) with a form login or signup",
    ),
]

PASSWORD_RESET_EXAMPLES = [
    _request("Address", {"email": "alice@example.com"}),
    _response(200, "Sent", {"detail": "Password reset e-mail has been sent."}),
]

PASSWORD_RESET_CONFIRM_EXAMPLES = [
    _request(
        "From the mailed link",
        {
            "uid": "1",
            "token": "cf6n3x-1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e",
            "new_password1": "a brand new passphrase",
            "new_password2": "a brand new passphrase",
        },
    ),
    _response(200, "Reset", {"detail": "Password has been reset with the new password."}),
]

# The shared 400 (blogapi.core.schema), with this operation's answers as examples.
PASSWORD_RESET_CONFIRM_REFUSED = OpenApiResponse(
    response={"anyOf": [FIELD_ERRORS, ERROR]},
    description=(
        "The link cannot be used: the same answer whatever the reason (an unknown, malformed or "
        "inactive user's `uid`; a wrong, expired or used `token`), so it reveals no account. "
        "Otherwise errors per field (a missing field; with a usable link, a new password the "
        "policy refuses), or malformed JSON."
    ),
    examples=[
        _response(400, "Bad link", {BAD_LINK_FIELD: [BAD_LINK]}, "Any link that cannot be used"),
        _response(
            400,
            "Refused password",
            {
                "new_password2": [
                    "This password is too short. It must contain at least 12 characters."
                ]
            },
        ),
    ],
)

CREDENTIAL_LIST_EXAMPLES = [
    _response(
        200,
        "A phone and a browser",
        [
            {
                "id": "token-7",
                "kind": "token",
                "label": "Alice's phone",
                "created_at": "2026-11-27T19:40:00Z",
                "last_used_at": "2026-11-27T19:41:00Z",
                "expires_at": "2026-12-04T19:41:00Z",
                "last_ip": "203.0.113.5",
                "user_agent": "BlogApp/2.1 (iOS 17)",
                "current": True,
            },
            {
                "id": "session-3",
                "kind": "session",
                "label": "Browser session (Firefox on Linux)",
                "created_at": "2026-11-20T08:00:00Z",
                "last_used_at": "2026-11-26T21:12:00Z",
                "expires_at": "2026-11-27T21:12:00Z",
                "last_ip": "198.51.100.23",
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Firefox/133.0",
                "current": False,
            },
        ],
    ),
]

EMAIL_CHANGE_STARTED = "Confirmation e-mail sent to the new address."

EMAIL_ADDRESS_LIST_EXAMPLES = [
    _response(
        200,
        "A change waiting for its link",
        [
            {"email": "alice@example.com", "primary": True, "verified": True},
            {"email": "alice@new.example.org", "primary": False, "verified": False},
        ],
    ),
]

EMAIL_CHANGE_EXAMPLES = [
    _request("New address", {"email": "alice@new.example.org", "password": EXAMPLE_PASSWORD}),
    _response(
        200,
        "Started",
        {"detail": EMAIL_CHANGE_STARTED},
        "The same answer when the address belongs to another account (its owner is told)",
    ),
]

EMAIL_CHANGE_REFUSED = OpenApiResponse(
    response={"anyOf": [FIELD_ERRORS, ERROR]},
    description=(
        "Errors per field: a wrong `password` (it counts toward the login lock, then 429), an "
        "invalid or too long `email`, or the caller's own address; or malformed JSON."
    ),
    examples=[
        _response(400, "Wrong password", {"password": [INCORRECT_PASSWORD]}),
        _response(400, "Own address", {"email": [SAME_ADDRESS]}),
    ],
)

USER_LIST_EXAMPLES = [
    _response(
        200,
        "First page",
        {
            "next": "https://api.example.com/api/v1/users/?cursor=cD0y",
            "previous": None,
            "results": [{"id": 1, "username": "alice"}, {"id": 2, "username": "bob"}],
        },
    ),
]

PASSKEY_LIST_EXAMPLES = [
    _response(
        200,
        "A phone and a security key",
        [
            {
                "id": 12,
                "name": "Alice's phone",
                "created_at": "2026-12-01T09:00:00Z",
                "last_used_at": "2026-12-05T08:30:00Z",
                "passwordless": True,
            },
            {
                "id": 13,
                "name": "Backup key",
                "created_at": "2026-12-01T09:05:00Z",
                "last_used_at": None,
                "passwordless": False,
            },
        ],
    ),
]

PASSKEY_CREATION_EXAMPLES = [
    _request("A passkey that signs in alone", {"passwordless": True}),
    _response(
        200,
        "Options",
        {
            "creation_options": {
                "publicKey": {
                    "rp": {"name": "blogapi", "id": "app.example.com"},
                    "user": {"name": "alice@example.com", "id": "MQ", "displayName": "alice"},
                    "challenge": "p0mN9Y3q2l5bT0x7JdV3cE8rA1sW6zQ4hK2uF9gL0oI",
                    "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
                    "excludeCredentials": [],
                    "authenticatorSelection": {
                        "residentKey": "required",
                        "requireResidentKey": True,
                        "userVerification": "required",
                    },
                    "extensions": {"credProps": True},
                }
            },
            "registration_token": "wreg_Vb3kQ9x0Lm2nP7sT5uW1yZ4aC6dE8fG0hJ2kL4mN6pQ",
        },
    ),
]

PASSKEY_REQUEST_EXAMPLES = [
    _response(
        200,
        "Options",
        {
            "request_options": {
                "publicKey": {
                    "challenge": "c2d9Xk1mQ7vB3nL8pR5tY0wZ4aS6dF2gH9jK1lM3nB5",
                    "rpId": "app.example.com",
                    "allowCredentials": [{"type": "public-key", "id": "B8ojE4aTUq181htwvLHSLQ"}],
                    "userVerification": "preferred",
                }
            }
        },
    ),
]

ACTIVITY_LIST_EXAMPLES = [
    _response(
        200,
        "A sign-in, failed attempts, a revocation",
        {
            "next": "https://api.example.com/api/v1/dj-rest-auth/activity/?cursor=cD0yMDI2",
            "previous": None,
            "results": [
                {
                    "id": 42,
                    "event": "login.succeeded",
                    "created_at": "2026-11-27T19:40:00Z",
                    "count": 1,
                    "window_end": None,
                    "ip": "203.0.113.5",
                    "user_agent": "BlogApp/2.1 (iOS 17)",
                    "device": "Alice's phone",
                    "actor": "self",
                    "details": {"via": "token"},
                },
                {
                    "id": 41,
                    "event": "login.failed",
                    "created_at": "2026-11-27T19:02:13Z",
                    "count": 37,
                    "window_end": "2026-11-27T20:00:00Z",
                    "ip": "198.51.100.23",
                    "user_agent": "python-requests/2.32",
                    "device": "python-requests/2.32",
                    "actor": "self",
                    "details": {},
                },
                {
                    "id": 40,
                    "event": "credential.revoked",
                    "created_at": "2026-11-26T08:00:00Z",
                    "count": 1,
                    "window_end": None,
                    "ip": "192.0.2.10",
                    "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Firefox/133.0",
                    "device": "Firefox on Linux",
                    "actor": "staff",
                    "details": {"kind": "token", "count": 2, "ids": [7, 9]},
                },
            ],
        },
    ),
]


# The export's document (blogapi.accounts.services.export), for clients: written by hand there,
# section by section, to stream; test_account_export checks the two agree.
_EXPORTED_PROFILE = inline_serializer(
    "ExportedProfile",
    {
        "id": serializers.IntegerField(),
        "username": serializers.CharField(),
        "email": serializers.CharField(),
        "first_name": serializers.CharField(),
        "last_name": serializers.CharField(),
        "date_joined": serializers.DateTimeField(),
        "last_login": serializers.DateTimeField(allow_null=True),
        "is_staff": serializers.BooleanField(),
    },
)
_EXPORTED_ADDRESS = inline_serializer(
    "ExportedEmailAddress",
    {
        "email": serializers.CharField(),
        "primary": serializers.BooleanField(),
        "verified": serializers.BooleanField(),
    },
)
_EXPORTED_FACTOR = inline_serializer(
    "ExportedSecondFactor",
    {
        "type": serializers.ChoiceField(choices=["totp", "recovery_codes", "webauthn"]),
        "created_at": serializers.DateTimeField(),
        "last_used_at": serializers.DateTimeField(allow_null=True),
        "recovery_codes_left": serializers.IntegerField(
            required=False, help_text="Recovery codes only; never the codes themselves."
        ),
        "name": serializers.CharField(
            required=False, help_text="Passkeys (`webauthn`) only: the name given to it."
        ),
        "passwordless": serializers.BooleanField(
            required=False,
            help_text=(
                "Passkeys only: whether it signs in alone. Never a passkey's credential id or "
                "public key."
            ),
        ),
    },
)
_EXPORTED_POST = inline_serializer(
    "ExportedPost",
    {
        "id": serializers.IntegerField(),
        "title": serializers.CharField(),
        "body": serializers.CharField(),
        "created_at": serializers.DateTimeField(),
        "updated_at": serializers.DateTimeField(),
    },
)
AccountExportSerializer = inline_serializer(
    "AccountExport",
    {
        "format": serializers.IntegerField(help_text="1: this layout."),
        "exported_at": serializers.DateTimeField(),
        "profile": _EXPORTED_PROFILE,
        "email_addresses": serializers.ListField(child=_EXPORTED_ADDRESS),
        "credentials": CredentialOutputSerializer(many=True),
        "second_factors": serializers.ListField(child=_EXPORTED_FACTOR),
        "activity": serializers.ListField(
            child=serializers.DictField(), help_text="The account's security events."
        ),
        "posts": serializers.ListField(child=_EXPORTED_POST, help_text="Oldest first."),
    },
)

ACCOUNT_DELETE_EXAMPLES = [
    _request("Password", {"password": EXAMPLE_PASSWORD}),
    _request(
        "With two-factor sign-in",
        {"password": EXAMPLE_PASSWORD, "code": "123456"},
        "A TOTP code or a recovery code is required when two-factor sign-in is on",
    ),
    _request(
        "With a passkey",
        {
            "password": EXAMPLE_PASSWORD,
            "credential": {"id": "...", "rawId": "...", "type": "public-key", "response": {}},
        },
        "Instead of a code: the assertion of a passkey for the options of "
        "POST reauthenticate/webauthn/begin/, asked with the same credential",
    ),
    _response(
        202,
        "Scheduled",
        {
            "detail": "Every sign-in of this account has ended. The account and all of its posts "
            "will be erased on 2026-12-12 18:00 UTC; sign in again before then to cancel.",
            "erase_at": "2026-12-12T18:00:00Z",
            "posts_deleted_with_account": True,
        },
    ),
]

ACCOUNT_DELETE_REFUSED = OpenApiResponse(
    response={"anyOf": [FIELD_ERRORS, ERROR]},
    description=(
        "Nothing was scheduled: a wrong password (`password`), a missing second factor or a "
        "wrong code when two-factor sign-in is on (`code`), a refused passkey assertion "
        "(`credential`), both `code` and `credential`, the last active superuser (`detail`), "
        "a missing field, or malformed JSON."
    ),
    examples=[
        _response(400, "Wrong password", {"password": ["Incorrect password."]}),
        _response(400, "Wrong code", {"code": ["Incorrect code."]}),
        _response(400, "Refused passkey", {"credential": ["Invalid signature."]}),
        _response(
            400,
            "Last superuser",
            {"detail": LAST_SUPERUSER},
            "The only active superuser cannot delete itself",
        ),
    ],
)
