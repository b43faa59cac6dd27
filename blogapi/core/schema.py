"""OpenAPI post-processing: the error answers every operation can give, with shapes and examples.

drf-spectacular documents what views return on success; the errors come from shared machinery
(authentication, throttles, parsers, middleware), so they are added here once for all operations.
"""

from typing import Any

from django.conf import settings

from blogapi.core.exceptions import DATABASE_UNAVAILABLE

ERROR = {"$ref": "#/components/schemas/ErrorDetail"}
FIELD_ERRORS = {"$ref": "#/components/schemas/FieldErrors"}
SCHEMAS = {
    "ErrorDetail": {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
        "example": {"detail": "Authentication credentials were not provided."},
    },
    "FieldErrors": {
        "type": "object",
        "description": "Messages per field; `non_field_errors` for errors spanning fields.",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "example": {"title": ["Ensure this field has no more than 50 characters."]},
    },
}
EXAMPLES: dict[str, dict[str, Any]] = {
    "FieldErrors": {
        "summary": "Invalid fields",
        "value": {
            "title": ["Ensure this field has no more than 50 characters."],
            "body": ["This field is required."],
        },
    },
    "NonFieldErrors": {
        "summary": "An error spanning fields",
        "value": {"non_field_errors": ["Unable to log in with provided credentials."]},
    },
    "MalformedJSON": {
        "summary": "Malformed JSON",
        "value": {"detail": "JSON parse error - Expecting value: line 1 column 1 (char 0)"},
    },
    "BadRequest": {
        "summary": "Malformed request",
        "value": {"detail": "Invalid Content-Length header."},
    },
    "NotAuthenticated": {
        "summary": "No credentials",
        "value": {"detail": "Authentication credentials were not provided."},
    },
    "InvalidToken": {"summary": "Unknown or revoked key", "value": {"detail": "Invalid token."}},
    "ExpiredToken": {"summary": "Expired key", "value": {"detail": "Token has expired."}},
    "Throttled": {
        "summary": "Rate limited",
        "value": {"detail": "Request was throttled. Expected available in 120 seconds."},
    },
    "DatabaseUnavailable": {"summary": "Database unreachable", "value": DATABASE_UNAVAILABLE},
}
RETRY_AFTER = {"schema": {"type": "integer", "minimum": 1}, "description": "Seconds to wait."}


def _json(
    schema: dict[str, Any],
    description: str,
    headers: dict[str, Any] | None = None,
    examples: tuple[str, ...] = (),
) -> dict:
    media: dict[str, Any] = {"schema": schema}
    if examples:
        media["examples"] = {name: {"$ref": f"#/components/examples/{name}"} for name in examples}
    response: dict[str, Any] = {"description": description, "content": {"application/json": media}}
    if headers:
        response["headers"] = headers
    return response


# An OpenAPI extension (`extend_schema(extensions={READS_CREDENTIALS: True})`) on operations
# without an authentication scheme that still check a credential sent in the body.
READS_CREDENTIALS = "x-reads-credentials"


def _scheme(operation: dict[str, Any]) -> str:
    """The scheme a refused request is told to use: the one the login issues; the JWT
    endpoints (which read a credential from the body) always name Bearer."""
    if settings.AUTH_JWT or operation.get(READS_CREDENTIALS, False):
        return 'Bearer realm="api"'
    return "Token"


def _errors_for(method: str, path: str, operation: dict[str, Any]) -> dict[str, dict]:
    # Views without authenticators (the health probes) read no credentials, consult no rate-limit
    # store and ignore Accept: they cannot answer 401, 406 or 429, and declare their own 503.
    # Those that take a credential in the body (JWT refresh, verify) say so: READS_CREDENTIALS.
    secured = any(requirement for requirement in operation.get("security", []))
    secured = secured or operation.get(READS_CREDENTIALS, False)
    errors: dict[str, dict] = {
        "405": _json(
            ERROR,
            "Method not allowed on this path.",
            {"Allow": {"schema": {"type": "string"}, "required": True, "example": "GET, HEAD"}},
        ),
        # Checked on the declared Content-Length of every request, before any view runs.
        "413": _json(ERROR, "Body over 1 MiB."),
        # gunicorn's own limit (limit_request_line), checked before the application sees the
        # request, so its answer is gunicorn's HTML page, not our JSON.
        "414": {
            "description": "Request line (method, path and query string) over 4094 bytes.",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
    }
    if "requestBody" in operation:
        errors["400"] = _json(
            {"anyOf": [FIELD_ERRORS, ERROR]},
            "Invalid data (per field) or malformed JSON.",
            examples=("FieldErrors", "NonFieldErrors", "MalformedJSON"),
        )
        errors["415"] = _json(ERROR, "Unsupported Content-Type (use application/json).")
    else:
        errors["400"] = _json(
            ERROR, "Malformed request (e.g. an invalid Content-Length).", examples=("BadRequest",)
        )
    if secured:
        errors["401"] = _json(
            ERROR,
            "No, invalid, expired or revoked credentials.",
            {"WWW-Authenticate": {"schema": {"enum": [_scheme(operation)]}, "required": True}},
            examples=("NotAuthenticated", "InvalidToken", "ExpiredToken"),
        )
        errors["406"] = _json(ERROR, "The Accept header names no type this API answers with.")
        errors["429"] = _json(
            ERROR,
            "Rate limited: retry after `Retry-After` seconds.",
            {"Retry-After": {**RETRY_AFTER, "required": True}},
            examples=("Throttled",),
        )
        errors["503"] = _json(
            ERROR,
            "A backing service (database, rate-limit store) is unreachable.",
            {"Retry-After": RETRY_AFTER},
            examples=("DatabaseUnavailable",),
        )
    if method in ("post", "put", "patch", "delete"):
        errors["403"] = _json(ERROR, "Not allowed (e.g. not the author), or CSRF check failed.")
    if "{" in path or any(p.get("name") == "cursor" for p in operation.get("parameters", [])):
        errors["404"] = _json(ERROR, "No such object, or an invalid cursor.")
    return errors


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """POSTPROCESSING_HOOKS entry: documents the shared error answers of every operation."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update(SCHEMAS)
    components.setdefault("examples", {}).update(EXAMPLES)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status, response in _errors_for(method, path, operation).items():
                responses.setdefault(status, response)
    return result
