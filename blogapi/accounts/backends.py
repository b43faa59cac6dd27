"""The authentication backend behind every password check."""

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from blogapi.accounts.identifiers import user_for_login
from blogapi.accounts.limits import login_attempt_start, login_attempt_succeeded
from blogapi.accounts.models import User


class RateLimitedAuthenticationBackend(ModelBackend):
    """Username-or-e-mail password check; rate limits are charged before the password hashes.

    dj-rest-auth's login bypasses allauth's own limits (dj-rest-auth#129) and Django's admin and
    the browsable API's login have none: putting the limit in the backend covers all of them.
    Not allauth's backend: its lookups (case-insensitive by the database's rules, by lower-case
    for addresses) differ from the canonical forms accounts are unique in, so a spelling could
    sign in yet miss the account's lockout counter. Here both use user_for_login().
    """

    def authenticate(  # type: ignore[override]
        self, request: HttpRequest | None, **credentials: Any
    ) -> User | None:
        identifier = credentials.get("username") or credentials.get("email")
        password = credentials.get("password")
        if not isinstance(identifier, str) or not isinstance(password, str):
            return None
        account = login_attempt_start(request=request, identifier=identifier)
        if "\x00" in identifier or "\x00" in password:
            return None
        user = user_for_login(identifier)
        if user is None:
            # Hash anyway, as Django's ModelBackend does: an unknown name takes as long.
            User().set_password(password)
            return None
        if not (user.check_password(password) and self.user_can_authenticate(user)):
            return None
        login_attempt_succeeded(account, request=request)
        return user
