"""Reauthentication: the credential in use proves its owner again before a sensitive step."""

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone

from blogapi.accounts.events import auth_event
from blogapi.accounts.models import Reauthentication, User
from blogapi.accounts.services.credentials import credential_in_use
from blogapi.accounts.services.mfa import INCORRECT_CODE, mfa_code_check_limited
from blogapi.accounts.services.password import password_check
from blogapi.accounts.services.webauthn import (
    Purpose,
    passkey_assertion_check_limited,
    passkey_assertion_start,
)

REAUTHENTICATION_TTL = timedelta(minutes=5)


def _credential_name(request: HttpRequest) -> str | None:
    """The credential in use, with its issue time when it has one (a token, a JWT family)."""
    ref = credential_in_use(request)
    if ref is None:
        return None
    issued = getattr(getattr(request, "auth", None), "created_at", None)
    suffix = f"@{issued.isoformat()}" if issued is not None else ""
    return f"{ref.kind}-{ref.key}{suffix}"


def _marked_credential(request: HttpRequest) -> str:
    credential = _credential_name(request)
    if credential is None:
        raise ValidationError("This sign-in cannot be marked: use a token or a session.")
    return credential


def reauthentication_passkey_start(*, request: HttpRequest, user: User) -> dict[str, Any]:
    """Request options for the user's passkeys, their challenge bound to the credential in use."""
    return passkey_assertion_start(
        purpose=Purpose.REAUTHENTICATE, key=_marked_credential(request), user=user
    )


def reauthentication_passkey_check(*, request: HttpRequest, user: User, credential: Any) -> None:
    """A passkey assertion answering reauthenticate/webauthn/begin/'s options for the credential
    in use (its challenge is spent, right or wrong), under the login limits; a 400 if refused."""
    passkey_assertion_check_limited(
        request=request,
        user=user,
        purpose=Purpose.REAUTHENTICATE,
        key=_marked_credential(request),
        credential=credential,
    )


def reauthenticate(
    *,
    request: HttpRequest,
    user: User,
    password: str | None = None,
    code: str | None = None,
    credential: Any = None,
) -> None:
    """Check the password, a second-factor code or a passkey assertion (under the login limits),
    then mark the credential in use as reauthenticated for REAUTHENTICATION_TTL."""
    marked = _marked_credential(request)
    if password is not None:
        if not password_check(
            request=request, user=user, password=password, where="reauthenticate"
        ):
            raise ValidationError({"password": ["Incorrect password."]})
    elif credential is not None:
        reauthentication_passkey_check(request=request, user=user, credential=credential)
    elif code is None or not mfa_code_check_limited(request=request, user=user, code=code):
        raise ValidationError({"code": [INCORRECT_CODE]})
    now = timezone.now()
    Reauthentication.objects.filter(user=user, at__lte=now - REAUTHENTICATION_TTL).delete()
    Reauthentication.objects.update_or_create(credential=marked, defaults={"user": user, "at": now})
    auth_event("reauthenticated", user_id=user.pk)


def reauthenticated_recently(*, request: HttpRequest) -> bool:
    """Whether the credential in use was reauthenticated within the last 5 minutes."""
    credential, user_id = _credential_name(request), request.user.pk
    return (
        credential is not None
        and user_id is not None
        and Reauthentication.objects.filter(
            credential=credential, user_id=user_id, at__gt=timezone.now() - REAUTHENTICATION_TTL
        ).exists()
    )
