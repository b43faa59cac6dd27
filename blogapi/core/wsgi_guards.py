"""WSGI wrappers for what Django fails on before any middleware can run."""

import codecs
import json
from collections.abc import Callable, Iterable
from typing import Any

from django.utils.http import parse_header_parameters

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _charset_is_unusable(content_type: str) -> bool:
    try:
        _, params = parse_header_parameters(content_type)
    except (ValueError, LookupError, TypeError, UnicodeError):
        return True  # e.g. an RFC 2231 value in an unknown encoding: charset*=BOGUS''utf-8
    if "charset" not in params:
        return False
    try:
        codecs.lookup(params["charset"])
    except LookupError:
        return False  # an unknown charset Django itself ignores
    except (ValueError, TypeError):
        return True  # e.g. a NUL in the name
    return False


def reject_unusable_content_type(app: WSGIApp) -> WSGIApp:
    """400 JSON for a Content-Type whose charset crashes Django's request (Django #36991)."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if _charset_is_unusable(str(environ.get("CONTENT_TYPE", ""))):
            body = json.dumps({"detail": "Unusable charset in Content-Type."}).encode()
            start_response(
                "400 Bad Request",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return app(environ, start_response)

    return guarded
