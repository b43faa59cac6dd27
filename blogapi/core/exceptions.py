"""JSON bodies for the errors Django answers outside DRF, in DRF's `{"detail": ...}` shape."""

from django.http import HttpRequest, JsonResponse


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
