"""Middleware for hostile requests: framed answers, oversized bodies, control characters."""

import re
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse

# C0 controls and DEL: RFC 6265 allows none of them in a cookie, and no route names a resource
# with one in it.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class ContentLengthMiddleware:
    """Every non-streaming response carries its Content-Length, early refusals included.

    Django's CommonMiddleware sets it, but only on what passes through it: a 413, 400 or 404
    answered by a middleware above it (or the 400 of a DisallowedHost it raises) had none.
    Without it Django's dev server (`make run`) answers `Connection: close`, then reads the rest
    of the declared body before it closes (its ServerHandler always does), so a client that
    stopped sending, as HTTP/1.1 asks, never saw the answer end; gunicorn sent it chunked. The
    application cannot ask for the close instead: PEP 3333 leaves `Connection` to the server
    (wsgiref asserts, gunicorn drops it). Hand-written, as CommonMiddleware's last step, because
    its other duties (slash redirects, the host check) must stay where they are.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if isinstance(response, HttpResponse) and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        return response


def _too_big() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return JsonResponse(
        {"detail": f"Request body too large: the limit is {limit} bytes."}, status=413
    )


class RequestSizeLimitMiddleware:
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE answers 413 `{"detail": ...}` on every view.

    Django raises RequestDataTooBig, a SuspiciousOperation that becomes a 400, and only when
    something reads the body. Here a declared Content-Length is checked up front, a body without
    one (chunked, HTTP/2 streams; ASGI buffers it) is measured up front, and one that still turns
    out too big inside a view (an understated Content-Length on ASGI) is answered in
    process_exception.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = str(request.META.get("CONTENT_LENGTH") or "").strip()
        if declared:
            # Django reads the header with a bare int() when the body is read: junk is a 500.
            if not (declared.isascii() and declared.isdigit()):
                return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if limit is not None and int(declared) > limit:
                return _too_big()
        else:
            try:
                request.body  # noqa: B018 - Django stops reading one byte past the limit
            except RequestDataTooBig:
                return _too_big()
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig):
            return _too_big()
        return None


class ControlCharacterMiddleware:
    """A path with a control character answers 404; cookies holding one are ignored.

    PostgreSQL refuses NUL in text: a NUL in a `<str:...>` path segment or in the session cookie
    would otherwise reach a query and answer 500.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _CONTROL_CHARACTERS.search(request.path_info):
            return JsonResponse({"detail": "Not found."}, status=404)
        request.COOKIES = {
            name: value
            for name, value in request.COOKIES.items()
            if not _CONTROL_CHARACTERS.search(name + value)
        }
        return self.get_response(request)
