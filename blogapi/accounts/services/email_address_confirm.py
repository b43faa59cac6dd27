"""Confirm an e-mail address from the key mailed to it."""

from allauth.account.models import EmailAddress, EmailConfirmation, EmailConfirmationHMAC
from django.db import transaction
from django.http import HttpRequest


@transaction.atomic
def email_address_confirm(*, request: HttpRequest, key: str) -> EmailAddress | None:
    """Verify the address the key was made for; None when the key is unknown, used or expired."""
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
    if confirmation is None or confirmation.email_address.verified:
        return None
    return confirmation.confirm(request)
