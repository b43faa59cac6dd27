"""Forms behind dj-rest-auth's serializers, where we need different behaviour."""

from typing import Any

from dj_rest_auth.forms import AllAuthPasswordResetForm
from django.http import HttpRequest

from blogapi.accounts.services.password_reset_email_send import password_reset_email_send


class PasswordResetForm(AllAuthPasswordResetForm):
    """dj-rest-auth's reset form, saved by our flow.

    The stock save() reverses a URL the project must supply (NoReverseMatch, dj-rest-auth#152)
    and reads allauth's deprecated AUTHENTICATION_METHOD (dj-rest-auth PR #756).
    """

    def save(self, request: HttpRequest, **kwargs: Any) -> str:
        email: str = self.cleaned_data["email"]
        password_reset_email_send(request=request, email=email, users=self.users)
        return email
