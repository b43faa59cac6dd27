"""Forms behind dj-rest-auth's serializers, where we need different behaviour."""

from typing import Any

from dj_rest_auth.forms import AllAuthPasswordResetForm
from django.http import HttpRequest

from blogapi.accounts.models import User, canonical_email
from blogapi.accounts.services.password_reset_email_send import password_reset_email_send
from blogapi.core import ratelimit


class PasswordResetForm(AllAuthPasswordResetForm):
    """dj-rest-auth's reset form, saved by our flow.

    The stock save() reverses a URL the project must supply (NoReverseMatch, dj-rest-auth#152)
    and reads allauth's deprecated AUTHENTICATION_METHOD (dj-rest-auth PR #756).
    """

    def clean_email(self) -> str:
        email: str = self.cleaned_data["email"]
        # By canonical address: 'm\u0131ke@' (dotless i) finds the account of 'mike@' and mails
        # mike's own address, not the typed one.
        self.users = list(
            User.objects.filter(email_canonical=canonical_email(email), is_active=True)
        )
        return email

    def save(self, request: HttpRequest, **kwargs: Any) -> str:
        email: str = self.cleaned_data["email"]
        # Per address, known or not: no inbox flooding, and the limit reveals nothing.
        ratelimit.consume("password_reset_address", canonical_email(email))
        password_reset_email_send(request=request, users=self.users)
        return email
