"""DRF authentication classes used by the API."""

import re
from typing import Any, NoReturn

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from blogapi.accounts import token_cache
from blogapi.accounts.devices import user_agent
from blogapi.accounts.models import TOKEN_PREFIX, DeviceToken, token_digest
from blogapi.accounts.services.credentials import sign_in_announce
from blogapi.core import ratelimit
from blogapi.core.clients import client_ip

# The exact shape of an issued key: prefix + token_urlsafe(32) (43 base64url characters).
_KEY_SHAPE = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{43}")


class DeviceTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` against per-device tokens: one lookup, expiry enforced.

    The lookup is one indexed query, or one round trip to the shared cache
    (blogapi.accounts.token_cache). A key that cannot have been issued is refused before any
    lookup (NUL bytes and other junk never reach a driver). last_used_at is written at most once
    per AUTH_TOKEN_TOUCH_INTERVAL per token, so a plain read costs no write.
    """

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, DeviceToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            self._refuse(request, "Invalid token header.")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            self._refuse(request, "Invalid token.")
        return self.authenticate_credentials(key, request)

    def authenticate_credentials(self, key: str, request: Request) -> tuple[Any, DeviceToken]:
        if not _KEY_SHAPE.fullmatch(key):
            self._refuse(request, "Invalid token.")
        token = token_cache.token_lookup(token_digest(key))
        if token is None:
            self._refuse(request, "Invalid token.")
        if not token.user.is_active:
            self._refuse(request, "User inactive or deleted.")
        now = timezone.now()
        if token.is_expired(now):
            self._refuse(request, "Token has expired.")
        if token.needs_touch(now):
            token.last_used_at, token.last_ip = now, client_ip(request)
            token.user_agent = user_agent(request) or token.user_agent
            touched = DeviceToken.objects.filter(pk=token.pk).update(
                last_used_at=token.last_used_at, last_ip=token.last_ip, user_agent=token.user_agent
            )
            if not touched:  # revoked since it was cached
                self._refuse(request, "Invalid token.")
            token_cache.touched(token)
        return token.user, token

    def _refuse(self, request: Request, message: str) -> NoReturn:
        """401, after charging the client IP's budget of failed token checks (then 429)."""
        ratelimit.consume_for_ip("token_failures_ip", request)
        raise exceptions.AuthenticationFailed(message)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class BasicCredentialsAuthentication(authentication.BasicAuthentication):
    """DRF's Basic (behind AUTH_BASIC_ENABLED); each request it accepts is a sign-in.

    So it updates last_login, which kills the reset links mailed before it, like any other
    sign-in. On every accepted request, not at most once per AUTH_TOKEN_TOUCH_INTERVAL: a bound
    would let a link mailed within the interval survive the sign-ins that follow it, and each
    Basic request already costs a password hash and the rate-limit counters' writes, next to
    which one single-row UPDATE is small.
    """

    def authenticate_credentials(
        self, userid: str, password: str, request: Request | None = None
    ) -> tuple[Any, None]:
        user, auth = super().authenticate_credentials(userid, password, request)
        if request is not None:
            sign_in_announce(request=request, user=user, via="basic")
        return user, auth
