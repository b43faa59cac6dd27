"""Account deletion: the owner's request, its cancellation by any sign-in, and the erasure.

A request revokes every credential at once and schedules the erasure AUTH_DELETION_GRACE later;
the task worker (hourly) or `purge_deleted_accounts` erases what is due, with its posts (CASCADE).
A request, a sign-in and the erasure of one account all lock the user row first, then touch its
AccountDeletion row, so whichever comes second sees what the first did: a sign-in cancels a
request made before it, and is refused (never a 5xx) after the erasure; the erasure checks the
deletion again under the lock and leaves an account a sign-in has just kept.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import logout
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import exceptions

from blogapi.accounts.events import auth_event
from blogapi.accounts.models import AccountDeletion, User, account_erasing
from blogapi.accounts.services.credentials import credentials_revoke_all
from blogapi.accounts.services.mfa import INCORRECT_CODE, mfa_code_check_limited, mfa_enabled
from blogapi.accounts.services.password import password_check
from blogapi.accounts.services.reauth import reauthentication_passkey_check

LAST_SUPERUSER = (
    "You are the last superuser: make another account a superuser before deleting this one."
)
CODE_REQUIRED = (
    "This account uses two-factor sign-in: send a code from the app or a recovery code (`code`), "
    "or a passkey's assertion (`credential`) for POST reauthenticate/webauthn/begin/."
)
ACCOUNT_ERASED = "This account has been deleted."


@dataclass(frozen=True)
class DeletionScheduled:
    """When the account will be erased (unless its owner signs in before then)."""

    requested_at: datetime
    erase_at: datetime


class AccountErased(exceptions.AuthenticationFailed):
    """A sign-in that lost the race with the erasure of its account: refused, nothing written."""

    default_detail = ACCOUNT_ERASED
    default_code = "account_deleted"


def _lock_account(user: User) -> bool:
    """Lock the user's row (every superuser's, in pk order, for a superuser); whether the user
    would leave no other active superuser behind.

    The rows in pk order: two superusers deleting themselves at once cannot both pass, nor
    deadlock. Always the user row before the AccountDeletion row, as the erasure and a sign-in do.
    """
    if not user.is_superuser:
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
        return False
    superusers = User.objects.select_for_update().filter(is_superuser=True, is_active=True)
    locked = list(superusers.order_by("pk").values_list("pk", flat=True))
    pending = set(
        AccountDeletion.objects.filter(user_id__in=locked).values_list("user_id", flat=True)
    )
    return not [pk for pk in locked if pk != user.pk and pk not in pending]


def account_deletion_request(
    *,
    request: HttpRequest,
    user: User,
    password: str,
    code: str | None = None,
    credential: Any = None,
) -> DeletionScheduled:
    """Check the password, then the second factor if the user has one (a code, or a passkey
    assertion for the reauthentication challenge of the credential in use), under the login
    limits; then schedule the erasure, end every credential (this one too) and mail a notice."""
    second_factor = mfa_enabled(user)
    if second_factor and not code and credential is None:
        raise ValidationError({"code": [CODE_REQUIRED]})
    if user.is_superuser:
        with transaction.atomic():
            if _lock_account(user):
                raise ValidationError(LAST_SUPERUSER)
    # Outside any transaction, so that a wrong guess stays charged (password_check).
    if not password_check(request=request, user=user, password=password, where="account_delete"):
        raise ValidationError({"password": ["Incorrect password."]})
    if second_factor and credential is not None:
        reauthentication_passkey_check(request=request, user=user, credential=credential)
    elif second_factor and not mfa_code_check_limited(request=request, user=user, code=code or ""):
        raise ValidationError({"code": [INCORRECT_CODE]})
    now = timezone.now()
    erase_at = now + settings.AUTH_DELETION_GRACE
    with transaction.atomic():
        # Checked again under the lock: another superuser may have asked in the meantime.
        if _lock_account(user):
            raise ValidationError(LAST_SUPERUSER)
        AccountDeletion.objects.update_or_create(
            user=user, defaults={"requested_at": now, "erase_at": erase_at}
        )
        # A pending e-mail change dies with the request (its link stops working): an account on
        # its way out must not take a new address, to which a password reset would then go.
        EmailAddress.objects.filter(user=user, primary=False).delete()
        credentials_revoke_all(user=user)
        auth_event("account.deletion_requested", user_id=user.pk, erase_at=erase_at.isoformat())
        # Our mail backend hands the message over only once this transaction commits.
        get_adapter(request).send_notification_mail(
            "account/email/account_deletion_requested", user, {"erase_at": erase_at}
        )
    logout(request)
    return DeletionScheduled(requested_at=now, erase_at=erase_at)


def deletion_cancel_on_sign_in(*, request: HttpRequest | None, user: User) -> None:
    """A sign-in of `user` (any surface): cancel a pending deletion, or refuse if it was erased.

    Runs before any other effect of the sign-in (blogapi.accounts.signals). It locks the user row
    first, as a deletion request and the erasure do: a request in progress finishes first (and is
    cancelled here), an erasure in progress finishes first (and the sign-in is refused before it
    writes a row that would name the account).
    """
    # No savepoint of its own inside the sign-in's transaction: a refusal rolls all of it back.
    with transaction.atomic(savepoint=False):
        if User.objects.select_for_update().filter(pk=user.pk).values_list("pk").first() is None:
            if request is not None and hasattr(request, "session"):
                request.session.flush()
            raise AccountErased
        cancelled, _ = AccountDeletion.objects.filter(user_id=user.pk).delete()
        if cancelled:
            auth_event("account.deletion_cancelled", user_id=user.pk)
            get_adapter(request).send_notification_mail(
                "account/email/account_deletion_cancelled", user
            )


def account_deletions_purge(*, now: datetime | None = None) -> int:
    """Erase every account whose grace has passed, with its posts; how many were erased.

    Each in its own transaction that locks the user row, then the deletion row, and checks the
    deletion again: a sign-in that cancelled it first wins, one that comes second is refused
    (deletion_cancel_on_sign_in), and purges running at once erase each account once.
    """
    now = now or timezone.now()
    due = list(AccountDeletion.objects.filter(erase_at__lte=now).values_list("user_id", flat=True))
    erased = 0
    for user_id in due:
        with transaction.atomic():
            user = User.objects.select_for_update().filter(pk=user_id).first()
            deletion = (
                AccountDeletion.objects.select_for_update()
                .filter(user_id=user_id, erase_at__lte=now)
                .first()
            )
            if user is None or deletion is None:  # cancelled by a sign-in, or already erased
                continue
            account_erasing.send(sender=User, user=user)
            user.delete()
            auth_event("account.erased", user_id=user_id)
        erased += 1
    return erased
