"""E-mail change flows: list the addresses, start a change (password checked), confirm it.

The model of allauth's ACCOUNT_CHANGE_EMAIL mode (one address, replaced through a temporary
second one), kept to these flows: the new address waits as a non-primary, unverified
EmailAddress (one at a time) until its mailed link is confirmed; only then does it become the
primary address and `User.email`, and the old address is removed. Until then sign-in, password
reset and notices all use the old address.
"""

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress, EmailConfirmation, EmailConfirmationHMAC
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from blogapi.accounts.events import auth_event
from blogapi.accounts.models import AccountDeletion, User, canonical_email
from blogapi.accounts.services.credentials import credential_in_use, credentials_revoke_all
from blogapi.accounts.services.password import password_check
from blogapi.core import ratelimit

CHANGE_PER_IP = "email_change_ip"
CHANGE_PER_ACCOUNT = "email_change_account"
CHANGE_PER_ADDRESS = "email_change_address"
INCORRECT_PASSWORD = "Incorrect password."  # noqa: S105 - a message, not a password
SAME_ADDRESS = "This is already your address."
DELETION_PENDING = (
    "This account is awaiting deletion: the change cannot be confirmed. Sign in to cancel the "
    "deletion, then change the address again."
)
ADDRESS_TAKEN = (
    "This address now belongs to another account: the change cannot be confirmed. "
    "Your address is unchanged."
)


def email_address_list_for_user(*, user: User) -> list[EmailAddress]:
    """The user's addresses: the primary first, then a pending change (if any)."""
    return list(EmailAddress.objects.filter(user=user).order_by("-primary", "pk"))


def email_change_start(*, request: HttpRequest, user: User, email: str, password: str) -> None:
    """Mail a confirmation link to the new address and a notice (no link) to the current one.

    Answers alike whether or not the address belongs to another account (no enumeration): a
    taken address gets no link, its owner a notice instead, and the event is logged either way.
    A new request replaces the pending one. Charged per IP and per account before the password
    check (itself under the login limits), per new address after it. Outside any transaction,
    so that a wrong password stays charged (password_check).
    """
    ratelimit.consume_for_ip(CHANGE_PER_IP, request)
    ratelimit.consume(CHANGE_PER_ACCOUNT, str(user.pk))
    # The row as stored: a token's cached user may predate a change confirmed seconds ago.
    user = User.objects.get(pk=user.pk)
    if not password_check(request=request, user=user, password=password, where="email_change"):
        raise ValidationError({"password": [INCORRECT_PASSWORD]})
    canonical = canonical_email(email)
    if canonical == user.email_canonical:
        raise ValidationError({"email": [SAME_ADDRESS]})
    ratelimit.consume(CHANGE_PER_ADDRESS, canonical)
    owner = User.objects.filter(email_canonical=canonical).exclude(pk=user.pk).first()
    adapter = get_adapter(request)
    with transaction.atomic():
        # One pending change at a time, even when starts race: they queue on the user's row
        # (before any address row, the order email_address_confirm takes too).
        User.objects.select_for_update().filter(pk=user.pk).exists()
        # A replaced change's links die with its row.
        EmailAddress.objects.filter(user=user, primary=False).delete()
        if owner is None:
            address = EmailAddress.objects.create(
                user=user, email=email.lower(), primary=False, verified=False
            )
            confirmation = EmailConfirmationHMAC.create(address)
            adapter.send_mail(
                "account/email/email_change_confirmation",
                address.email,
                {
                    "user": user,
                    "key": confirmation.key,
                    "activate_url": adapter.get_email_confirmation_url(request, confirmation),
                },
            )
        else:
            # To the address on file, never the spelling typed (CVE-2019-19844).
            adapter.send_mail("account/email/email_change_taken", owner.email, {"user": owner})
        auth_event("email.change_started", user_id=user.pk)
        if user.email:
            adapter.send_notification_mail(
                "account/email/email_change_requested", user, {"to_email": email}, user.email
            )


def email_change_is_pending(address: EmailAddress) -> bool:
    """Whether confirming this (unverified) address is a change rather than a sign-up's check."""
    return canonical_email(address.email) != canonical_email(address.user.email)


@transaction.atomic
def email_change_confirm(
    *, request: HttpRequest, confirmation: EmailConfirmation | EmailConfirmationHMAC
) -> EmailAddress:
    """Make the pending address primary and `User.email`, remove the old one, revoke the rest.

    Every credential of the user is revoked but the one this request signs in with, if it is
    the user's (a link opened without one revokes them all). Both addresses get a notice. An
    address taken meanwhile by another account is a ValidationError and nothing is written
    (the unique canonical e-mail and allauth's unique verified address settle races).
    """
    address = confirmation.email_address
    user = User.objects.select_for_update().get(pk=address.user_id)
    address.user = user
    # A deletion request drops a pending change, but a change started by a request that was
    # authenticated just before the deletion committed can still be pending: refused here, under
    # the lock a deletion request takes too.
    if AccountDeletion.objects.filter(user_id=user.pk).exists():
        raise ValidationError(DELETION_PENDING)
    old_email = user.email
    taken = User.objects.filter(email_canonical=canonical_email(address.email)).exclude(pk=user.pk)
    if taken.exists():
        raise ValidationError(ADDRESS_TAKEN)
    try:
        with transaction.atomic():
            # allauth's check: marks it verified unless another account verified it first.
            if confirmation.confirm(request) is None:
                raise ValidationError(ADDRESS_TAKEN)
            EmailAddress.objects.filter(user=user).exclude(pk=address.pk).delete()
            # By hand, not allauth's set_as_primary(): that saves every column of the user,
            # which would write back a password hash read before a concurrent change.
            address.primary = True
            address.save(update_fields=["primary"])
            user.email = address.email
            user.save(update_fields=["email"])
    except IntegrityError:
        raise ValidationError(ADDRESS_TAKEN) from None
    keep = credential_in_use(request) if request.user.pk == user.pk else None
    credentials_revoke_all(user=user, keep=keep)
    auth_event("email.change_confirmed", user_id=user.pk)
    adapter = get_adapter(request)
    context = {"from_email": old_email, "to_email": address.email}
    if old_email:
        adapter.send_notification_mail("account/email/email_changed", user, context, old_email)
    adapter.send_notification_mail("account/email/email_confirm", user, context, address.email)
    return address
