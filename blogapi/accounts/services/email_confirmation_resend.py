"""Mail a new confirmation link to an unverified address."""

from allauth.account.models import EmailAddress
from django.http import HttpRequest

from blogapi.accounts.models import User, canonical_email
from blogapi.core import ratelimit

RESEND_PER_ADDRESS = "resend_email_address"


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
