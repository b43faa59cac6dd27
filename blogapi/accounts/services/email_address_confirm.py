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
    if confirmation is None:
        return None
    # The row lock makes the key single-use even when confirms race: the loser sees verified.
    address = EmailAddress.objects.select_for_update().get(pk=confirmation.email_address.pk)
    if address.verified:
        return None
    confirmation.email_address = address
    return confirmation.confirm(request)
