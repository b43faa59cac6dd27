"""JSON bodies for the errors Django answers outside DRF, in DRF's `{"detail": ...}` shape."""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler

# A lost database (restart, failover, network) is a temporary condition, not a server bug.
DATABASE_UNAVAILABLE = {"detail": "Service temporarily unavailable, please retry shortly."}
RETRY_AFTER_SECONDS = "5"


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus 503 with Retry-After when the database cannot be reached.

    Django's ValidationError (what the flows raise) answers 400: `{field: [messages]}` for
    field errors, `{"detail": message}` for the others.
    """
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            exc = ValidationError(exc.message_dict)
        else:
            exc = ValidationError({"detail": " ".join(exc.messages)})
    if isinstance(exc, (OperationalError, InterfaceError)):
        return Response(
            DATABASE_UNAVAILABLE, status=503, headers={"Retry-After": RETRY_AFTER_SECONDS}
        )
    return exception_handler(exc, context)


def database_unavailable() -> JsonResponse:
    """503 with Retry-After, for a database that cannot be reached outside DRF's views."""
    response = JsonResponse(DATABASE_UNAVAILABLE, status=503)
    response["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """404 for URLs no route matches, as JSON like every other API error."""
    return JsonResponse({"detail": "Not found."}, status=404)


def json_server_error(request: HttpRequest) -> JsonResponse:
    """500 without a traceback or settings in the body."""
    return JsonResponse({"detail": "Internal server error."}, status=500)


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """400 for requests Django itself rejects (e.g. a Host header not in DJANGO_ALLOWED_HOSTS)."""
    return JsonResponse({"detail": "Bad request."}, status=400)


def json_permission_denied(
    request: HttpRequest, exception: Exception | None = None
) -> JsonResponse:
    """403 for requests Django itself refuses outside DRF."""
    return JsonResponse({"detail": "Permission denied."}, status=403)


class APIExceptionMiddleware:
    """Renders DRF exceptions raised outside DRF views (e.g. a rate limit hit by the admin login
    through the authentication backend) and database outages as the same JSON as DRF does."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, (OperationalError, InterfaceError)):
            return database_unavailable()
        if not isinstance(exception, APIException):
            return None
        response = JsonResponse({"detail": str(exception.detail)}, status=exception.status_code)
        wait = getattr(exception, "wait", None)
        if wait is not None:
            response["Retry-After"] = str(int(wait))
        return response
