"""OpenAPI post-processing: the error answers every operation can give, with their shapes.

drf-spectacular documents what views return on success; the errors come from shared machinery
(authentication, throttles, parsers, middleware), so they are added here once for all operations.
"""

from typing import Any

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
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}


def _json(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> dict:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }
    if headers:
        response["headers"] = headers
    return response


def _errors_for(method: str, path: str, operation: dict[str, Any]) -> dict[str, dict]:
    has_body = method in ("post", "put", "patch")
    errors: dict[str, dict] = {
        "401": _json(
            ERROR,
            "No, invalid, expired or revoked credentials.",
            {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Token`"}},
        ),
        "405": _json(
            ERROR,
            "Method not allowed on this path.",
            {"Allow": {"schema": {"type": "string"}, "description": "The allowed methods."}},
        ),
        "429": _json(ERROR, "Rate limited: retry after `Retry-After` seconds.", RETRY_AFTER),
        "503": _json(
            ERROR, "A backing service (database, rate-limit store) is unreachable.", RETRY_AFTER
        ),
    }
    if has_body:
        errors["400"] = _json(
            {"anyOf": [FIELD_ERRORS, ERROR]}, "Invalid data (per field) or malformed JSON."
        )
        errors["413"] = _json(ERROR, "Body over 1 MiB.")
        errors["415"] = _json(ERROR, "Unsupported Content-Type (use application/json).")
    if method in ("post", "put", "patch", "delete"):
        errors["403"] = _json(ERROR, "Not allowed (e.g. not the author), or CSRF check failed.")
    if "{" in path or any(p.get("name") == "cursor" for p in operation.get("parameters", [])):
        errors["404"] = _json(ERROR, "No such object, or an invalid cursor.")
    return errors


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """POSTPROCESSING_HOOKS entry: documents the shared error answers of every operation."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status, response in _errors_for(method, path, operation).items():
                responses.setdefault(status, response)
    return result
