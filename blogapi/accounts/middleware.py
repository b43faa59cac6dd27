"""Browser sessions: refused once idle, and when each was last used."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from blogapi.accounts.services.credentials import browser_session_end_idle, user_session_record
from blogapi.core.clients import UNKNOWN_IP, client_ip
from blogapi.core.exceptions import database_unavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _LastSeen:
    """A signed-in session's key and its last recorded use (None: not listed), and from where."""

    session_key: str
    at: datetime | None
    from_cache: bool


def _signed_in_session_key(request: HttpRequest) -> str | None:
    """The session's key if a login opened it (a token request may carry an anonymous session)."""
    session = getattr(request, "session", None)
    if session is None or not session.get(SESSION_KEY):
        return None
    return session.session_key


def _seen_key(session_key: str) -> str:
    return f"session-seen:{session_key}"


class SessionActivityMiddleware:
    """Refuse a browser session unused for AUTH_SESSION_IDLE_TTL; record its use once per interval.

    A session's last use is its listed record's last_seen_at (allauth's usersessions, which the
    credentials list shows), written at most once per AUTH_TOKEN_TOUCH_INTERVAL; a timestamp in
    the cache spares the database in between. allauth's USERSESSIONS_TRACK_ACTIVITY writes on
    every request. The session itself is never modified, so its absolute expiry
    (SESSION_COOKIE_AGE) does not slide. An idle session is ended before the view runs, so every
    surface (the API, the browsable API, the admin) sees the request signed out.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            seen = self._refuse_if_idle(request)
        except (OperationalError, InterfaceError):
            # Unchecked is refused: an idle session must never pass because a read failed.
            return database_unavailable()
        response = self.get_response(request)
        self._touch(request, seen)
        return response

    def _refuse_if_idle(self, request: HttpRequest) -> _LastSeen | None:
        session_key = _signed_in_session_key(request)
        if session_key is None:
            return None
        seen = self._last_seen(session_key)
        if seen.at is not None and timezone.now() - seen.at >= settings.AUTH_SESSION_IDLE_TTL:
            browser_session_end_idle(request=request)
            return None
        return seen

    def _last_seen(self, session_key: str) -> _LastSeen:
        try:
            cached = cache.get(_seen_key(session_key))
        except Exception:  # a cache outage: the database answers
            logger.warning("session last-seen not read from the cache", exc_info=True)
            cached = None
        if cached is not None:
            return _LastSeen(session_key, cached, from_cache=True)
        at = (
            UserSession.objects.filter(session_key=session_key)
            .values_list("last_seen_at", flat=True)
            .first()
        )
        return _LastSeen(session_key, at, from_cache=False)

    def _touch(self, request: HttpRequest, before: _LastSeen | None) -> None:
        """After the view: record the use, unless recorded less than an interval ago."""
        try:
            session_key = _signed_in_session_key(request)
            if session_key is None:
                return
            # A login or a password change during the request gave the session a new key.
            seen = before.at if before is not None and before.session_key == session_key else None
            now, interval = timezone.now(), settings.AUTH_TOKEN_TOUCH_INTERVAL
            timeout = 2 * interval.total_seconds()
            if seen is not None and now - seen < interval:
                if before is not None and not before.from_cache:
                    cache.set(_seen_key(session_key), seen, timeout=timeout)
                return
            # Two racing requests may both write: the same idempotent UPDATE, twice.
            cache.set(_seen_key(session_key), now, timeout=timeout)
            listed = UserSession.objects.filter(session_key=session_key).update(
                last_seen_at=now, ip=client_ip(request) or UNKNOWN_IP
            )
            user = request.user
            if not listed and user.is_authenticated:
                # A signed-in session nobody listed: Django gave it a new key after a password
                # change (update_session_auth_hash), e.g. on the admin's page.
                user_session_record(request=request, user=user)
        except Exception:  # bookkeeping: a cache or database outage must not fail a request
            logger.warning("session last-seen not recorded", exc_info=True)
