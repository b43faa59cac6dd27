"""allauth adapter: confirmation links that lead somewhere real (dj-rest-auth#17, #237, #577)."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailConfirmation, EmailConfirmationHMAC
from django.http import HttpRequest

from blogapi.accounts.links import email_confirmation_url


class AccountAdapter(DefaultAccountAdapter):
    """Points e-mail confirmation links at FRONTEND_URL or our POST-to-confirm page."""

    def get_email_confirmation_url(
        self, request: HttpRequest, emailconfirmation: EmailConfirmation | EmailConfirmationHMAC
    ) -> str:
        return email_confirmation_url(request=request, key=emailconfirmation.key)
