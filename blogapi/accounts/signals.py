"""Signal receivers: list every browser session a login opens."""

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from blogapi.accounts.models import User
from blogapi.accounts.services.user_session_record import user_session_record


@receiver(user_logged_in)
def user_session_on_login(
    sender: Any, request: HttpRequest | None, user: User, **kwargs: Any
) -> None:
    """allauth's usersessions only hears allauth's own login signal; ours come from login()."""
    if request is not None and hasattr(request, "session"):
        user_session_record(request=request, user=user)
