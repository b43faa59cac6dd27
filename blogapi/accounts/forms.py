"""Login forms of the HTML surfaces (browsable API, admin): a password, then a code step."""

import json
from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from blogapi.accounts.services.mfa import mfa_enabled, mfa_login_start
from blogapi.accounts.services.webauthn import MALFORMED

SECOND_FACTOR_REQUIRED = "This account uses two-factor sign-in: sign in at /admin/login/."
CODE_OR_PASSKEY = "Either a code or a passkey, not both."


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
    """The code step: a TOTP code, a recovery code, or a passkey's assertion (one of them)."""

    # Room for a recovery code with its dashes and spaces; anything longer is no code.
    code = forms.CharField(max_length=64, strip=True, required=False)
    # PublicKeyCredential.toJSON() of an assertion, filled in by the page's script: about 1 kB;
    # the bound keeps a huge body from reaching the JSON parser and fido2.
    credential = forms.CharField(max_length=16_000, required=False)

    def clean_credential(self) -> dict[str, Any] | None:
        text = self.cleaned_data["credential"]
        if not text:
            return None
        try:
            credential = json.loads(text)
        # RecursionError: deeply nested arrays within the length bound.
        except (ValueError, RecursionError):
            credential = None
        if not isinstance(credential, dict):
            raise ValidationError(MALFORMED, code="malformed")
        return credential

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        if data.get("code") and data.get("credential") is not None:
            raise ValidationError(CODE_OR_PASSKEY, code="code_or_passkey")
        if not data.get("code") and data.get("credential") is None:
            self.add_error("code", ValidationError(self.fields["code"].error_messages["required"]))
        return data
