"""A user's browser sessions read and ended in a fixed number of queries, however many there are.

Why not allauth's usersessions helpers alone: `UserSession.objects.purge_and_list()` and
`UserSession.end()` load or delete each session through the session store, 2-4 queries per
session, so listing credentials or signing out everywhere grew with the number of browsers a user
ever signed in with. With the database session engine (this project's), the sessions' rows are
read or deleted in one query each instead; any other engine keeps allauth's per-session path.
"""

from dataclasses import dataclass
from datetime import datetime
from importlib import import_module

from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.models import Session
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from blogapi.accounts.models import User

_DATABASE_ENGINE = "django.contrib.sessions.backends.db"


@dataclass(frozen=True)
class LiveSession:
    """A browser session that still signs its user in, and when it expires."""

    record: UserSession
    expires_at: datetime


def _signs_in(user: User, data: dict[str, object]) -> bool:
    """What django.contrib.auth.get_user() accepts for this user, without loading the user again.

    The session names this user and an enabled backend, the user is active, and the session's
    hash matches the user's current password (or a SECRET_KEY_FALLBACKS hash of it).
    """
    if str(data.get(SESSION_KEY)) != user._meta.pk.value_to_string(user):
        return False
    if data.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS or not user.is_active:
        return False
    session_hash = data.get(HASH_SESSION_KEY)
    if not isinstance(session_hash, str) or not session_hash:
        return False
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return any(constant_time_compare(session_hash, candidate) for candidate in hashes)


def live_sessions(user: User) -> list[LiveSession]:
    """The user's browser sessions that still sign them in; records of the others are purged."""
    if settings.SESSION_ENGINE != _DATABASE_ENGINE:
        store = import_module(settings.SESSION_ENGINE).SessionStore
        return [
            LiveSession(s, store(s.session_key).get_expiry_date())
            for s in UserSession.objects.purge_and_list(user)
        ]
    records = list(UserSession.objects.filter(user=user))
    stored = Session.objects.filter(
        session_key__in=[r.session_key for r in records], expire_date__gt=timezone.now()
    )
    rows = {row.session_key: row for row in stored}
    live, stale = [], []
    for record in records:
        row = rows.get(record.session_key)
        if row is not None and _signs_in(user, row.get_decoded()):
            live.append(LiveSession(record, row.expire_date))
        else:
            stale.append(record.pk)
    if stale:
        UserSession.objects.filter(pk__in=stale).delete()
    return live


def sessions_end(records: QuerySet[UserSession]) -> int:
    """End these browser sessions (the store's session and the record); how many there were."""
    if settings.SESSION_ENGINE != _DATABASE_ENGINE:
        ended = 0
        for record in records:
            record.end()
            ended += 1
        return ended
    keys = list(records.values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    UserSession.objects.filter(session_key__in=keys).delete()
    return len(keys)
