"""End credentials: one token, one browser session, or everything a user is signed in with."""

from allauth.usersessions.models import UserSession
from django.contrib.auth import logout
from django.db import transaction
from django.http import HttpRequest

from blogapi.accounts.browser_sessions import sessions_end
from blogapi.accounts.events import credentials_revoked
from blogapi.accounts.models import DeviceToken, User


def device_token_revoke(*, token: DeviceToken) -> None:
    """Delete one token; the next request with its key gets 401."""
    token.delete()
    credentials_revoked(user_id=token.user_id, tokens=1)


def user_session_revoke(*, session: UserSession) -> None:
    """Delete one browser session from the session store and the sessions list."""
    session.end()
    credentials_revoked(user_id=session.user_id, sessions=1)


@transaction.atomic
def credentials_revoke_all(
    *, user: User, keep_token: DeviceToken | None = None, keep_session_key: str | None = None
) -> None:
    """End every token and browser session of the user, except the ones named to keep."""
    tokens = DeviceToken.objects.filter(user=user)
    if keep_token is not None:
        tokens = tokens.exclude(pk=keep_token.pk)
    revoked_tokens, _ = tokens.delete()
    sessions = UserSession.objects.filter(user=user)
    if keep_session_key:
        sessions = sessions.exclude(session_key=keep_session_key)
    revoked_sessions = sessions_end(sessions)
    credentials_revoked(user_id=user.pk, tokens=revoked_tokens, sessions=revoked_sessions)


def credentials_in_use_revoke(*, request: HttpRequest) -> None:
    """Logout: end the token and the session this request was made with, nothing else."""
    if isinstance(request.auth, DeviceToken):  # type: ignore[attr-defined]
        device_token_revoke(token=request.auth)  # type: ignore[attr-defined]
    session_key = request.session.session_key
    if session_key:
        revoked, _ = UserSession.objects.filter(session_key=session_key).delete()
        credentials_revoked(user_id=request.user.pk, sessions=revoked)
    logout(request)
