"""allauth adapters: confirmation links that lead somewhere real (dj-rest-auth#17, #237, #577),
and TOTP secrets encrypted at rest."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailConfirmation, EmailConfirmationHMAC
from allauth.core import context as allauth_context
from allauth.mfa.adapter import DefaultMFAAdapter
from django.conf import settings
from django.core.validators import validate_email
from django.http import HttpRequest

from blogapi.accounts.identifiers import normalize_username, username_taken, validate_email_length
from blogapi.accounts.links import email_confirmation_url
from blogapi.accounts.mfa_encryption import decrypt_secret, encrypt_secret

PROJECT_NAME = "blogapi"


@dataclass(frozen=True)
class ConfiguredSite:
    """What mail templates call `current_site`, from settings, never from the request's Host."""

    name: str
    domain: str


class AccountAdapter(DefaultAccountAdapter):
    """Confirmation links to FRONTEND_URL or our page; identifiers checked as the model does."""

    def clean_username(self, username: str, shallow: bool = False) -> str:
        # allauth runs the model field's validators (ours among them); its own uniqueness query
        # (shallow=False) is case-insensitive by the database's rules, which a full-width or
        # Kelvin-sign spelling gets past, so the canonical form is checked instead.
        username = normalize_username(super().clean_username(username, shallow=True))
        if not shallow and username_taken(username):
            raise self.validation_error("username_taken")
        return username

    def clean_email(self, email: str) -> str:
        # allauth stores addresses lower-cased, and would cut one longer than the column. Some
        # pass Django's validator only before lower-casing ('\u0130' in the part before the @
        # becomes i + a combining dot): allauth then drops the address (no confirmation mail).
        validate_email_length(email)
        validate_email(email.lower())
        return super().clean_email(email)

    def get_email_confirmation_url(
        self, request: HttpRequest, emailconfirmation: EmailConfirmation | EmailConfirmationHMAC
    ) -> str:
        return email_confirmation_url(key=emailconfirmation.key)

    # A security notice (allauth's send_notification_mail) names the request's IP and browser; a
    # password set by `manage.py changepassword` or a script has none and still gets its notice.
    def get_client_ip(self, request: HttpRequest | None) -> str:
        if request is None:
            return "none (not a web request)"
        return str(super().get_client_ip(request))

    def get_http_user_agent(self, request: HttpRequest | None) -> str:
        if request is None:
            return "a server-side command or script"
        return str(super().get_http_user_agent(request))

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        # allauth's send_mail, with the site from settings: allauth's reads the request's Host,
        # and there is no request behind `changepassword` or a script.
        site = ConfiguredSite(name=PROJECT_NAME, domain=urlsplit(settings.SITE_URL).netloc)
        full = {"request": allauth_context.request, "email": email, **context}
        self.render_mail(template_prefix, email, {**full, "current_site": site}).send()


class MfaAdapter(DefaultMFAAdapter):
    """allauth.mfa's documented hooks: TOTP secrets stored encrypted (allauth stores them in clear).

    decrypt() raises SecretUnreadable when no configured key opens a secret (see services/mfa.py).
    """

    def encrypt(self, text: str) -> str:
        return encrypt_secret(text)

    def decrypt(self, encrypted_text: str) -> str:
        return decrypt_secret(encrypted_text)
