"""Middleware for account bookkeeping."""

import logging
from collections.abc import Callable

from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from blogapi.accounts.services.credentials import user_session_record
from blogapi.core.clients import UNKNOWN_IP, client_ip

logger = logging.getLogger(__name__)


class SessionLastSeenMiddleware:
    """Record when a browser session was last used, at most once per AUTH_TOKEN_TOUCH_INTERVAL.

    allauth's USERSESSIONS_TRACK_ACTIVITY writes on every request; here a timestamp in the
    cache decides, and the session itself is not modified (its expiry does not slide).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        # Only sessions a login opened (token requests may carry an anonymous session).
        if session is not None and session.session_key and session.get(SESSION_KEY):
            session_key, now = session.session_key, timezone.now()
            interval = settings.AUTH_TOKEN_TOUCH_INTERVAL
            seen_key = f"session-seen:{session_key}"
            try:
                seen = cache.get(seen_key)
                if seen is None or now - seen >= interval:
                    # Two racing requests may both write: the same idempotent UPDATE, twice.
                    cache.set(seen_key, now, timeout=2 * interval.total_seconds())
                    listed = UserSession.objects.filter(session_key=session_key).update(
                        last_seen_at=now, ip=client_ip(request) or UNKNOWN_IP
                    )
                    user = request.user
                    if not listed and user.is_authenticated:
                        # A signed-in session nobody listed: Django gave it a new key after a
                        # password change (update_session_auth_hash), e.g. on the admin's page.
                        user_session_record(request=request, user=user)
            except Exception:  # bookkeeping: a cache or database outage must not fail a request
                logger.warning("session last-seen not recorded", exc_info=True)
        return response
