"""Sign-up flows: complete a registration, notify a taken address, confirm an address, resend."""

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress, EmailConfirmation, EmailConfirmationHMAC
from allauth.account.signals import user_signed_up
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from blogapi.accounts.links import login_url, password_reset_request_url
from blogapi.accounts.models import User, canonical_email
from blogapi.accounts.services.email_change import email_change_confirm, email_change_is_pending
from blogapi.core import ratelimit

RESEND_PER_ADDRESS = "resend_email_address"
INVALID_CONFIRMATION = "This confirmation key is invalid, expired or already used."


def user_signup_complete(*, request: HttpRequest, user: User) -> None:
    """What allauth's complete_signup does, minus its login: announce, mail the confirmation.

    A JSON client (an app) authenticates with the token it is given; a session it never uses
    would only be one more credential to leak and to list.
    """
    user_signed_up.send(sender=User, request=request, user=user)
    if allauth_settings.EMAIL_VERIFICATION == allauth_settings.EmailVerificationMethod.NONE:
        return
    address = EmailAddress.objects.get_primary(user)
    if address is not None and not address.verified:
        address.send_confirmation(request, signup=True)


def account_exists_notice_send(*, request: HttpRequest, email: str, password: str) -> None:
    """Mail the existing owner instead of creating a duplicate; hash the password anyway.

    With mandatory verification the registration then answers exactly as for a new address,
    and takes as long: the hash costs what a real sign-up's hash costs.
    """
    make_password(password)
    get_adapter(request).send_mail(
        "account/email/account_already_exists",
        email,
        {"signup_url": login_url(), "password_reset_url": password_reset_request_url()},
    )


@transaction.atomic
def email_address_confirm(*, request: HttpRequest, key: str) -> EmailAddress:
    """Verify the address the key was made for; ValidationError if unknown, used or expired.

    The key of a pending e-mail change completes the change (email_change_confirm).
    """
    confirmation: EmailConfirmation | EmailConfirmationHMAC | None = EmailConfirmationHMAC.from_key(
        key
    )
    if confirmation is None:
        confirmation = (
            EmailConfirmation.objects.all_valid()
            .select_related("email_address__user")
            .filter(key=key.lower())
            .first()
        )
    if confirmation is None:
        raise ValidationError(INVALID_CONFIRMATION)
    # The user's row, then the address's: the order of every flow that writes addresses (an
    # e-mail change's start and confirmation), so that none waits for another in a cycle.
    user = User.objects.select_for_update().filter(pk=confirmation.email_address.user_id).first()
    # The row lock makes the key single-use even when confirms race: the loser sees verified.
    # Gone meanwhile (a newer e-mail change replaced it, the user was deleted): a dead key too.
    address = (
        EmailAddress.objects.select_for_update().filter(pk=confirmation.email_address.pk).first()
    )
    if user is None or address is None or address.verified:
        raise ValidationError(INVALID_CONFIRMATION)
    address.user = user
    confirmation.email_address = address
    if email_change_is_pending(address):
        return email_change_confirm(request=request, confirmation=confirmation)
    confirmed = confirmation.confirm(request)
    if confirmed is None:
        raise ValidationError(INVALID_CONFIRMATION)
    return confirmed


def email_confirmation_resend(*, request: HttpRequest, email: str) -> None:
    """Send if the address exists and is unverified; say nothing either way (no enumeration).

    Charged per address first, known or not, so nobody can flood an inbox and the limit itself
    reveals nothing.
    """
    ratelimit.consume(RESEND_PER_ADDRESS, canonical_email(email))
    user = User.objects.filter(email_canonical=canonical_email(email), is_active=True).first()
    if user is None:
        return
    address = EmailAddress.objects.filter(user=user, email=user.email, verified=False).first()
    if address is not None:
        address.send_confirmation(request)
