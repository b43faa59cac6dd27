"""The JWT cookies for browsers (AUTH_JWT_COOKIES): names, flags, and setting or clearing them.

HttpOnly, so that no script (an XSS) reads them; Secure unless DJANGO_SECURE_COOKIES=false;
SameSite=Lax. The access cookie goes to every path, the refresh cookie only to the refresh
endpoint that reads it. Over HTTPS the names carry the browser-enforced `__Host-` / `__Secure-`
prefixes, so that a sibling subdomain or a plain-HTTP page cannot plant or shadow them.
"""

from django.conf import settings
from django.http import HttpResponse
from django.middleware.csrf import get_token
from rest_framework.request import Request

from blogapi.accounts.services.jwt_families import IssuedJwt

REFRESH_PATH = "/api/v1/dj-rest-auth/token/refresh/"


def access_cookie_name() -> str:
    return "__Host-blogapi-access" if settings.SESSION_COOKIE_SECURE else "blogapi-access"


def refresh_cookie_name() -> str:
    return "__Secure-blogapi-refresh" if settings.SESSION_COOKIE_SECURE else "blogapi-refresh"


def jwt_cookies_set(response: HttpResponse, request: Request, *, issued: IssuedJwt) -> None:
    """Put a login's or a refresh's tokens in cookies (and make sure a CSRF cookie exists)."""
    secure = settings.SESSION_COOKIE_SECURE
    response.set_cookie(
        access_cookie_name(),
        issued.access,
        expires=issued.access_expiration,
        path="/",
        secure=secure,
        httponly=True,
        samesite="Lax",
    )
    response.set_cookie(
        refresh_cookie_name(),
        issued.refresh,
        expires=issued.refresh_expiration,
        path=REFRESH_PATH,
        secure=secure,
        httponly=True,
        samesite="Lax",
    )
    get_token(request)  # the CSRF cookie the page needs for its unsafe requests


def jwt_cookies_clear(response: HttpResponse) -> None:
    response.delete_cookie(access_cookie_name(), path="/", samesite="Lax")
    response.delete_cookie(refresh_cookie_name(), path=REFRESH_PATH, samesite="Lax")
