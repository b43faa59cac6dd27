"""Links mailed to users: to FRONTEND_URL when set, else to this API's pages at SITE_URL.

Never built from the request's Host or X-Forwarded-Host, which a client controls.
"""

from urllib.parse import quote

from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.urls import reverse

from blogapi.accounts.models import User


def _api_url(path: str) -> str:
    return settings.SITE_URL + path


def email_confirmation_url(*, key: str) -> str:
    """`{FRONTEND_URL}/verify-email/{key}`, else our page (which confirms only on POST)."""
    if settings.FRONTEND_URL:
        return f"{settings.FRONTEND_URL}/verify-email/{quote(key, safe=':')}"
    return _api_url(reverse("accounts:confirm-email-page", args=[key]))


def password_reset_url(*, user: User, token: str) -> str:
    """`{FRONTEND_URL}/reset-password/{uid}/{token}`, else our reset page."""
    uid = user_pk_to_url_str(user)
    if settings.FRONTEND_URL:
        return f"{settings.FRONTEND_URL}/reset-password/{quote(uid)}/{quote(token)}"
    return _api_url(reverse("accounts:password-reset-page", kwargs={"uid": uid, "token": token}))


def password_reset_request_url() -> str:
    """Where someone who forgot their password starts over."""
    if settings.FRONTEND_URL:
        return f"{settings.FRONTEND_URL}/forgot-password"
    return _api_url(reverse("accounts:password-reset"))


def login_url() -> str:
    if settings.FRONTEND_URL:
        return f"{settings.FRONTEND_URL}/login"
    return _api_url(reverse("rest_framework:login"))
