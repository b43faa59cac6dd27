"""Signal receivers: log logins as auth events, and list every browser session a login opens."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from blogapi.accounts.events import auth_event, login_succeeded
from blogapi.accounts.limits import login_user_id
from blogapi.accounts.models import User
from blogapi.accounts.services.credentials import user_session_record


@receiver(user_logged_in)
def auth_event_on_login(
    sender: Any, request: HttpRequest | None, user: User, **kwargs: Any
) -> None:
    """Session logins (admin, /api-auth/, browsable API); a JSON login is logged at its token."""
    login_succeeded(request=request, user=user, via="session")


@receiver(user_logged_in)
def user_session_on_login(
    sender: Any, request: HttpRequest | None, user: User, **kwargs: Any
) -> None:
    """allauth's usersessions only hears allauth's own login signal; ours come from login()."""
    if request is not None and hasattr(request, "session"):
        user_session_record(request=request, user=user)
        auth_event("credential.created", kind="session", user_id=user.pk)


@receiver(user_login_failed)
def auth_event_on_login_failure(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
    """The account's id when the name is one; never the typed name (Django scrubs the password)."""
    identifier = credentials.get("username") or credentials.get("email")
    user_id = login_user_id(identifier) if isinstance(identifier, str) else None
    auth_event("login.failed", user_id=user_id)
