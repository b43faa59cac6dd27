"""Reads of account data."""

from dataclasses import dataclass
from datetime import datetime

from allauth.usersessions.models import UserSession
from django.conf import settings
from django.utils import timezone

from blogapi.accounts.browser_sessions import live_sessions
from blogapi.accounts.devices import device_label
from blogapi.accounts.models import DeviceToken, User


@dataclass(frozen=True)
class Credential:
    """A device token or a browser session, as the credentials list shows it."""

    id: str
    kind: str
    label: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime | None
    last_ip: str | None
    user_agent: str
    current: bool


def credential_list_for_user(
    *, user: User, current_token: DeviceToken | None, current_session_key: str | None
) -> list[Credential]:
    """The user's live tokens and browser sessions, most recently used first."""
    now = timezone.now()
    tokens = [
        Credential(
            id=f"token-{t.pk}",
            kind="token",
            label=t.label,
            created_at=t.created_at,
            last_used_at=t.last_used_at,
            expires_at=min(t.expires_at, t.last_used_at + settings.AUTH_TOKEN_IDLE_TTL),
            last_ip=t.last_ip,
            user_agent=t.user_agent,
            current=current_token is not None and t.pk == current_token.pk,
        )
        for t in DeviceToken.objects.filter(user=user).live(now)
    ]
    sessions = [
        Credential(
            id=f"session-{s.record.pk}",
            kind="session",
            label=f"Browser session ({device_label(s.record.user_agent)})",
            created_at=s.record.created_at,
            last_used_at=s.record.last_seen_at,
            expires_at=s.expires_at,
            last_ip=s.record.ip,
            user_agent=s.record.user_agent,
            current=bool(current_session_key) and s.record.session_key == current_session_key,
        )
        for s in live_sessions(user)
    ]
    return sorted(tokens + sessions, key=lambda c: c.last_used_at, reverse=True)


def credential_get_for_user(*, user: User, credential_id: str) -> DeviceToken | UserSession | None:
    """The user's own token or session by list id; None for anything else (incl. others')."""
    kind, _, number = credential_id.partition("-")
    # isascii(): str.isdigit() also accepts superscripts and other scripts' digits.
    if not (number.isascii() and number.isdigit()) or len(number) > 18:
        return None
    if kind == "token":
        return DeviceToken.objects.filter(user=user, pk=int(number)).first()
    if kind == "session":
        return UserSession.objects.filter(user=user, pk=int(number)).first()
    return None
