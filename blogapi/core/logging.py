"""Request ids, one structured log line per request, and formatters that redact e-mailed secrets."""

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.contrib.auth import SESSION_KEY
from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils.functional import LazyObject
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

logger = logging.getLogger("blogapi.request")

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
# Mailed links carry the reset uid/token and the confirmation key in the path itself.
_SECRET_PATH = re.compile(
    r"(/password/reset/confirm/|/account-confirm-email/)([^?#\s\"'\\]*)", re.IGNORECASE
)
# Route patterns such as `<str:token>` name a parameter, not a value: they stay readable.
_ROUTE_PARAMETER = re.compile(r"<\w+(:\w+)?>")

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


def _redact_segments(match: re.Match[str]) -> str:
    segments = match.group(2).split("/")
    return match.group(1) + "/".join(
        segment if not segment or _ROUTE_PARAMETER.fullmatch(segment) else "***"
        for segment in segments
    )


def redact(text: str) -> str:
    """`text` with every path segment after an e-mailed-link prefix replaced by `***`."""
    return _SECRET_PATH.sub(_redact_segments, text)


def _route(request: HttpRequest) -> str:
    match = request.resolver_match
    return str(match.route) if match is not None else "unmatched"


def _user_id(request: HttpRequest) -> int | None:
    """The user's id if authentication already ran; never resolves a user (no query, no session)."""
    # DRF replaces Django's lazy user with the one it authenticated; a lazy one left in place
    # would cost a session and a user query to resolve, for a log line.
    user = request.__dict__.get("user")
    if isinstance(user, LazyObject):
        # A session read already (Django's get_user flushes one whose hash no longer matches).
        session = getattr(request, "session", None)
        if session is None or not session.accessed or session.get(SESSION_KEY) is None:
            return None
        return int(session[SESSION_KEY])
    if user is None:
        return None
    return user.pk if user.is_authenticated else None


def _client_ip(request: HttpRequest) -> str | None:
    # A call-time import: logging is configured before the app registry is ready, and
    # allauth's adapter (the rate limits' client-IP rule) needs the registry to load.
    from blogapi.core.clients import client_ip

    return client_ip(request)


class RequestLogMiddleware:
    """First middleware: X-Request-ID in (if valid) and out, and one `blogapi.request` line.

    The line names the route pattern, the redacted path (never the query string), the status,
    the duration, the user id and the client IP.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        # Cleared when the response is closed, so Django's own lines after this (django.request's
        # 4xx/5xx warnings) still carry the id.
        current_request_id.set(request_id)
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        response[REQUEST_ID_HEADER] = request_id
        path = redact(request.path)
        logger.log(
            logging.ERROR if response.status_code >= 500 else logging.INFO,
            "%s %s %s %sms",
            request.method,
            path,
            response.status_code,
            duration_ms,
            extra={
                "request_id": request_id,
                "method": request.method,
                "route": _route(request),
                "path": path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "user_id": _user_id(request),
                "client_ip": _client_ip(request),
            },
        )
        return response


@receiver(request_finished, dispatch_uid="blogapi.core.logging.forget_request_id")
def _forget_request_id(**kwargs: Any) -> None:
    current_request_id.set(None)


def _with_request_id(record: logging.LogRecord) -> None:
    if getattr(record, "request_id", None) is None:
        request_id = current_request_id.get()
        if request_id is not None:
            record.request_id = request_id


class RedactingJsonFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message, extra fields, the request id.

    The whole line is redacted, so a mailed link's secrets never leave the process whichever
    logger (ours, Django's, gunicorn's) wrote the path. Django's `request` objects are dropped.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request", "server_time"])
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        _with_request_id(record)
        return redact(super().format(record))


class RedactingTextFormatter(logging.Formatter):
    """Plain text for reading in a terminal (LOG_FORMAT=text), redacted like the JSON lines."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s")
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        _with_request_id(record)
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return redact(f"{line} [{request_id}]" if request_id else line)
