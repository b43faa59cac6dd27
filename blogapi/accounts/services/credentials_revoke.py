"""End credentials: one token, one browser session, or everything a user is signed in with."""

from allauth.usersessions.models import UserSession
from django.contrib.auth import logout
from django.db import transaction
from django.http import HttpRequest

from blogapi.accounts.models import DeviceToken, User


def device_token_revoke(*, token: DeviceToken) -> None:
    """Delete one token; the next request with its key gets 401."""
    token.delete()


def user_session_revoke(*, session: UserSession) -> None:
    """Delete one browser session from the session store and the sessions list."""
    session.end()


@transaction.atomic
def credentials_revoke_all(
    *, user: User, keep_token: DeviceToken | None = None, keep_session_key: str | None = None
) -> None:
    """End every token and browser session of the user, except the ones named to keep."""
    tokens = DeviceToken.objects.filter(user=user)
    if keep_token is not None:
        tokens = tokens.exclude(pk=keep_token.pk)
    tokens.delete()
    sessions = UserSession.objects.filter(user=user)
    if keep_session_key:
        sessions = sessions.exclude(session_key=keep_session_key)
    for session in sessions:
        session.end()


def credentials_in_use_revoke(*, request: HttpRequest) -> None:
    """Logout: end the token and the session this request was made with, nothing else."""
    if isinstance(request.auth, DeviceToken):  # type: ignore[attr-defined]
        device_token_revoke(token=request.auth)  # type: ignore[attr-defined]
    session_key = request.session.session_key
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()
    logout(request)
