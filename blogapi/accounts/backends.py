"""The authentication backend behind every password check."""

from typing import Any

from allauth.account.auth_backends import AuthenticationBackend
from django.http import HttpRequest

from blogapi.accounts.limits import login_attempt_start, login_attempt_succeeded
from blogapi.accounts.models import User


class RateLimitedAuthenticationBackend(AuthenticationBackend):
    """allauth's username-or-e-mail backend; rate limits are charged before the password hashes.

    dj-rest-auth's login bypasses allauth's own limits (dj-rest-auth#129) and Django's admin and
    the browsable API's login have none: putting the limit in the backend covers all of them.
    """

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> User | None:
        identifier = credentials.get("username") or credentials.get("email")
        password = credentials.get("password")
        if not isinstance(identifier, str) or not isinstance(password, str):
            return None
        account = login_attempt_start(request=request, identifier=identifier)
        if "\x00" in identifier or "\x00" in password:
            return None
        user = super().authenticate(request, **credentials)
        if user is not None:
            login_attempt_succeeded(account, request=request)
        return user
