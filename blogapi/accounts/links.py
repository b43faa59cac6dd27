"""Links mailed to users: to FRONTEND_URL when set, else to the pages this API serves."""

from urllib.parse import quote

from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from blogapi.accounts.models import User


def email_confirmation_url(*, request: HttpRequest, key: str) -> str:
    """`{FRONTEND_URL}/verify-email/{key}`, else our page (which confirms only on POST)."""
    if settings.FRONTEND_URL:
        return f"{settings.FRONTEND_URL}/verify-email/{quote(key, safe=':')}"
    return request.build_absolute_uri(reverse("accounts:confirm-email-page", args=[key]))


def password_reset_url(request: HttpRequest, user: User, temp_key: str) -> str:
    """`{FRONTEND_URL}/reset-password/{uid}/{token}`, else our reset page."""
    uid = user_pk_to_url_str(user)
    if settings.FRONTEND_URL:
        return f"{settings.FRONTEND_URL}/reset-password/{quote(uid)}/{quote(temp_key)}"
    return request.build_absolute_uri(
        reverse("accounts:password-reset-page", kwargs={"uid": uid, "token": temp_key})
    )
