"""DRF authentication classes used by the API."""

import re
from typing import Any, NoReturn

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from blogapi.accounts.access_tokens import AccessTokenInvalid, access_token_verify
from blogapi.accounts.credential_cache import device_tokens, refresh_families
from blogapi.accounts.devices import user_agent
from blogapi.accounts.jwt_cookies import access_cookie_name
from blogapi.accounts.models import TOKEN_PREFIX, DeviceToken, RefreshFamily, token_digest
from blogapi.accounts.services.credentials import sign_in_announce
from blogapi.accounts.services.mfa import mfa_enabled
from blogapi.core import ratelimit
from blogapi.core.clients import client_ip

# The exact shape of an issued key: prefix + token_urlsafe(32) (43 base64url characters).
_KEY_SHAPE = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{43}")


class DeviceTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` against per-device tokens: one lookup, expiry enforced.

    The lookup is one indexed query, or one round trip to the shared cache
    (blogapi.accounts.credential_cache). A key that cannot have been issued is refused before any
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
        token = device_tokens.lookup(token_digest(key))
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
            device_tokens.touched(token.digest, token.last_used_at)
        return token.user, token

    def _refuse(self, request: Request, message: str) -> NoReturn:
        _refuse(request, message)

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
        if mfa_enabled(user):
            # A password alone never signs in a user with a second factor.
            raise exceptions.AuthenticationFailed(
                "This account uses two-factor sign-in: Basic authentication is refused."
            )
        if request is not None:
            sign_in_announce(request=request, user=user, via="basic")
        return user, auth


def _refuse(request: Request, message: str) -> NoReturn:
    """401, after charging the client IP's budget of failed token checks (then 429)."""
    ratelimit.consume_for_ip("token_failures_ip", request)
    raise exceptions.AuthenticationFailed(message)


# Far above any access token we sign (~300 characters); longer is junk, refused before parsing.
MAX_ACCESS_TOKEN_LENGTH = 2048


class JwtAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <access JWT>`, or the access cookie (then CSRF on unsafe methods).

    PyJWT checks the signature (HS256 only, by key id), expiry, issuer and audience; then the
    family that issued the token must still be live: one cached lookup (or one query without a
    shared cache), so that every revocation refuses its access tokens at their next request.
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, RefreshFamily] | None:
        header = authentication.get_authorization_header(request).split()
        if header and header[0].lower() == self.keyword.lower().encode():
            if len(header) != 2:
                _refuse(request, "Invalid token header.")
            try:
                token = header[1].decode("ascii")
            except UnicodeDecodeError:
                _refuse(request, "Invalid token.")
            return self.authenticate_credentials(token, request)
        cookie = request.COOKIES.get(access_cookie_name()) if settings.AUTH_JWT_COOKIES else None
        if not cookie or header:
            return None
        user, family = self.authenticate_credentials(cookie, request)
        # A cookie rides along on requests other sites trigger: DRF's own CSRF check, as for
        # a session (token and Origin/Referer on unsafe methods).
        authentication.SessionAuthentication().enforce_csrf(request)
        return user, family

    def authenticate_credentials(self, token: str, request: Request) -> tuple[Any, RefreshFamily]:
        if len(token) > MAX_ACCESS_TOKEN_LENGTH or "\x00" in token:
            _refuse(request, "Token is invalid or expired.")
        try:
            claims = access_token_verify(token)
        except AccessTokenInvalid:
            _refuse(request, "Token is invalid or expired.")
        family = refresh_families.lookup(str(claims.family_id))
        if family is None or family.user_id != claims.user_id:
            _refuse(request, "Token is invalid or expired.")
        if not family.user.is_active:
            _refuse(request, "User inactive or deleted.")
        if family.is_expired(timezone.now()):
            _refuse(request, "Token is invalid or expired.")
        return family.user, family

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'
