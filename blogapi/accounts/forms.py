"""Login forms of the HTML surfaces (browsable API, admin): a password, then a code step."""

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from blogapi.accounts.services.mfa import mfa_enabled, mfa_login_start

SECOND_FACTOR_REQUIRED = "This account uses two-factor sign-in: sign in at /admin/login/."


class SecondFactorStartMixin:
    """After a right password, a user with a second factor gets an ephemeral token, not a session.

    Django's documented hook for a check on the authenticated user (confirm_login_allowed): the
    view reads `ephemeral_token` and sends the browser to the code step instead of calling login().
    """

    ephemeral_token: str | None = None

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)  # type: ignore[misc]
        if mfa_enabled(user):
            self.ephemeral_token = mfa_login_start(user=user, label=None)


class BrowsableApiLoginForm(SecondFactorStartMixin, AuthenticationForm):
    """The browsable API's login form (/api-auth/login/)."""


class AdminLoginForm(SecondFactorStartMixin, AdminAuthenticationForm):
    """The admin's login form (/admin/login/)."""


class StockAdminLoginForm(AdminAuthenticationForm):
    """AdminSite.login_form: the stock admin view has no code step, so it refuses such a user.

    Our URLconf routes /admin/login/ to AdminLoginView (with the code step) ahead of the site's
    own view; this guards the site's view should it ever be reached (another URLconf).
    """

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if mfa_enabled(user):
            raise ValidationError(SECOND_FACTOR_REQUIRED, code="mfa_required")


class LoginCodeForm(forms.Form):
    """The code step: a TOTP code or a recovery code."""

    # Room for a recovery code with its dashes and spaces; anything longer is no code.
    code = forms.CharField(max_length=64, strip=True)
