"""Middleware for account bookkeeping."""

from collections.abc import Callable

from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from blogapi.accounts.devices import UNKNOWN_IP, client_ip


class SessionLastSeenMiddleware:
    """Record when a browser session was last used, at most once per AUTH_TOKEN_TOUCH_INTERVAL.

    allauth's USERSESSIONS_TRACK_ACTIVITY writes on every request; here an atomic cache.add()
    decides who writes, and the session itself is not modified (its expiry does not slide).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        # Only sessions a login opened (token requests may carry an anonymous session).
        if session is not None and session.session_key and session.get(SESSION_KEY):
            session_key = session.session_key
            interval = settings.AUTH_TOKEN_TOUCH_INTERVAL.total_seconds()
            if cache.add(f"session-seen:{session_key}", 1, timeout=interval):
                UserSession.objects.filter(session_key=session_key).update(
                    last_seen_at=timezone.now(), ip=client_ip(request) or UNKNOWN_IP
                )
        return response
