"""Login forms of the HTML surfaces (browsable API, admin): no sign-in on a password alone."""

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from blogapi.accounts.services.mfa import mfa_enabled

SECOND_FACTOR_REQUIRED = (
    "This account uses two-factor sign-in, which this page does not offer yet: "
    "sign in through the API (POST /api/v1/dj-rest-auth/login/, then mfa/verify/)."
)


class SecondFactorRefusedMixin:
    """Refuse, after a right password, a user whose sign-in needs a second factor.

    Django's documented hook for refusing an authenticated user (confirm_login_allowed); the
    HTML code step comes in a later slice, until then these forms never sign such a user in.
    """

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)  # type: ignore[misc]
        if mfa_enabled(user):
            raise ValidationError(SECOND_FACTOR_REQUIRED, code="mfa_required")


class PasswordOnlyLoginForm(SecondFactorRefusedMixin, AuthenticationForm):
    """The browsable API's login form (/api-auth/login/)."""


class AdminLoginForm(SecondFactorRefusedMixin, AdminAuthenticationForm):
    """The admin's login form (/admin/login/)."""
