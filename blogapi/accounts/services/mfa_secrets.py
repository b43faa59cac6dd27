"""TOTP secrets at rest: every secret re-encrypted under the first of AUTH_MFA_ENCRYPTION_KEYS."""

from dataclasses import dataclass

from allauth.mfa.models import Authenticator
from django.db import transaction

from blogapi.accounts.events import auth_event
from blogapi.accounts.mfa_encryption import SecretUnreadable, reseal_secret


@dataclass(frozen=True)
class MfaKeyRotation:
    """How many secrets were re-encrypted, and the authenticators none of the keys opens."""

    resealed: int
    unreadable: list[int]


def mfa_secrets_reseal() -> MfaKeyRotation:
    """Re-encrypt every TOTP secret under the first key (any left in clear get encrypted).

    One short transaction per row, locked, so sign-ins go on while it runs.
    """
    resealed, unreadable = 0, []
    totps = Authenticator.objects.filter(type=Authenticator.Type.TOTP)
    for pk in list(totps.values_list("pk", flat=True)):
        with transaction.atomic():
            row = Authenticator.objects.select_for_update().filter(pk=pk).first()
            if row is None:  # turned off meanwhile
                continue
            try:
                row.data["secret"] = reseal_secret(row.data["secret"])
            except SecretUnreadable:
                auth_event("mfa.totp_secret_unreadable", user_id=row.user_id, authenticator_id=pk)
                unreadable.append(pk)
                continue
            row.save(update_fields=["data"])
            resealed += 1
    auth_event("mfa.keys_rotated", resealed=resealed, unreadable=len(unreadable))
    return MfaKeyRotation(resealed=resealed, unreadable=unreadable)
