"""allauth adapter: confirmation links that lead somewhere real (dj-rest-auth#17, #237, #577)."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailConfirmation, EmailConfirmationHMAC
from django.conf import settings
from django.http import HttpRequest

from blogapi.accounts.links import email_confirmation_url

PROJECT_NAME = "blogapi"


@dataclass(frozen=True)
class ConfiguredSite:
    """What mail templates call `current_site`, from settings, never from the request's Host."""

    name: str
    domain: str


class AccountAdapter(DefaultAccountAdapter):
    """Points e-mail confirmation links at FRONTEND_URL or our POST-to-confirm page."""

    def get_email_confirmation_url(
        self, request: HttpRequest, emailconfirmation: EmailConfirmation | EmailConfirmationHMAC
    ) -> str:
        return email_confirmation_url(key=emailconfirmation.key)

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        site = ConfiguredSite(name=PROJECT_NAME, domain=urlsplit(settings.SITE_URL).netloc)
        super().send_mail(template_prefix, email, {**context, "current_site": site})
