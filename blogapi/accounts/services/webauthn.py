"""Passkeys (WebAuthn) on allauth.mfa's Authenticator, verified by fido2's public Fido2Server.

allauth's WebAuthn flows keep their state in the session and live in `internal` modules; this API
has no session, so a ceremony's state (its challenge) is a WebAuthnChallenge row bound to what
the client presents back, single use and short-lived. Passkeys are stored in allauth's shape
(`{"name", "credential"}`: its admin and `is_mfa_enabled` see them), plus `credential_id`,
`sign_count` and `passwordless`.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account.models import EmailAddress
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from fido2.server import Fido2Server
from fido2.utils import websafe_encode
from fido2.webauthn import (
    AttestedCredentialData,
    AuthenticationResponse,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
    RegistrationResponse,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from blogapi.accounts.events import auth_event
from blogapi.accounts.limits import LOGIN_IP, login_attempt_start, login_attempt_succeeded
from blogapi.accounts.models import MfaLoginAttempt, User, WebAuthnChallenge, token_digest
from blogapi.accounts.services.mfa import (
    factor_changed,
    mfa_login_attempt_get,
    mfa_login_attempt_spend,
    recovery_codes_create_if_missing,
    recovery_codes_drop_unless_mfa,
)
from blogapi.core import ratelimit

CHALLENGE_TTL = timedelta(minutes=5)
MAX_PASSKEYS = 20
NAME_MAX_LENGTH = 100
REGISTRATION_PREFIX = "wreg_"
LOGIN_PREFIX = "wlog_"
Purpose = WebAuthnChallenge.Purpose

NOT_CONFIGURED = "Passkeys are not set up on this server (AUTH_WEBAUTHN_RP_ID)."
BAD_TOKEN = "This passkey step has expired or was already used: start again."  # noqa: S105
NO_CHALLENGE = "No passkey challenge is pending (or it was used or expired): ask for a new one."
MALFORMED = "Not a WebAuthn credential response (PublicKeyCredential JSON)."
UNKNOWN_PASSKEY = "This passkey is not registered here."
SECOND_STEP_ONLY = "This passkey was registered for the second step only, not to sign in alone."
REPLAYED = "This passkey's signature counter went backwards: the response was refused."
NOT_VERIFIED = "E-mail is not verified."


@dataclass(frozen=True)
class PasskeyInfo:
    """A passkey as its owner sees it; never its key material."""

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    passwordless: bool


@dataclass(frozen=True)
class PasskeyRegistration:
    """The options for navigator.credentials.create() and the token that binds their challenge."""

    creation_options: dict[str, Any]
    registration_token: str


@dataclass(frozen=True)
class PasskeyLogin:
    """The options for navigator.credentials.get() and the token that binds their challenge."""

    request_options: dict[str, Any]
    login_token: str


def _server() -> Fido2Server:
    if not settings.AUTH_WEBAUTHN_RP_ID:
        raise ValidationError(NOT_CONFIGURED)
    rp = PublicKeyCredentialRpEntity(
        id=settings.AUTH_WEBAUTHN_RP_ID, name=settings.AUTH_WEBAUTHN_RP_NAME
    )
    allowed = frozenset(settings.AUTH_WEBAUTHN_ORIGINS)
    # The exact allow-list rather than fido2's default (any https page of the RP ID's domain):
    # only the configured front-ends may ask for an assertion; never "allow insecure".
    return Fido2Server(
        rp, verify_origin=lambda origin: isinstance(origin, str) and origin in allowed
    )


def _passkeys(user: User) -> list[Authenticator]:
    return list(
        Authenticator.objects.filter(user=user, type=Authenticator.Type.WEBAUTHN).order_by("pk")
    )


def _credential_data(passkey: Authenticator) -> AttestedCredentialData:
    registration = RegistrationResponse.from_dict(passkey.data["credential"])
    credential = registration.response.attestation_object.auth_data.credential_data
    assert credential is not None  # checked at registration
    return credential


def _parse(kind: type[RegistrationResponse] | type[AuthenticationResponse], credential: Any) -> Any:
    try:
        return kind.from_dict(credential)
    # fido2 raises assorted exceptions on malformed input (base64, CBOR, missing keys, wrong
    # types): all of them mean "not a credential response", a 400.
    except Exception:
        raise ValidationError({"credential": [MALFORMED]}) from None


def _challenge_store(*, purpose: str, key: str, user: User | None, state: dict[str, Any]) -> None:
    now = timezone.now()
    WebAuthnChallenge.objects.filter(expires_at__lte=now).delete()
    WebAuthnChallenge.objects.update_or_create(
        purpose=purpose,
        digest=token_digest(key),
        defaults={"user": user, "state": state, "expires_at": now + CHALLENGE_TTL},
    )


def _challenge_pop(*, purpose: str, key: str, user: User | None) -> dict[str, Any] | None:
    """The pending state for `key`, deleted now (single use, right or wrong); None if none."""
    row = WebAuthnChallenge.objects.filter(
        purpose=purpose, digest=token_digest(key), expires_at__gt=timezone.now()
    ).first()
    if row is None:
        return None
    deleted, _ = WebAuthnChallenge.objects.filter(pk=row.pk).delete()
    if not deleted or (user is not None and row.user_id != user.pk):
        return None  # a racing use won, or another user's challenge
    return dict(row.state)


def passkey_list(*, user: User) -> list[PasskeyInfo]:
    """The user's passkeys, oldest first."""
    return [
        PasskeyInfo(
            id=passkey.pk,
            name=str(passkey.data.get("name", "")),
            created_at=passkey.created_at,
            last_used_at=passkey.last_used_at,
            passwordless=bool(passkey.data.get("passwordless")),
        )
        for passkey in _passkeys(user)
    ]


def passkey_registration_start(*, user: User, passwordless: bool) -> PasskeyRegistration:
    """Creation options for a new passkey (a discoverable one with user verification when it is
    to sign in without a password) and the token their challenge is bound to (5 minutes)."""
    server = _server()
    if not EmailAddress.objects.filter(user=user, verified=True).exists():
        raise ValidationError(get_mfa_adapter().error_messages["unverified_email"])
    passkeys = _passkeys(user)
    if len(passkeys) >= MAX_PASSKEYS:
        raise ValidationError(f"At most {MAX_PASSKEYS} passkeys: delete one first.")
    entity = get_mfa_adapter().get_public_key_credential_user_entity(user)
    options, state = server.register_begin(
        user=PublicKeyCredentialUserEntity(**entity),
        credentials=[_credential_data(passkey) for passkey in passkeys],
        resident_key_requirement=(
            ResidentKeyRequirement.REQUIRED if passwordless else ResidentKeyRequirement.DISCOURAGED
        ),
        user_verification=(
            UserVerificationRequirement.REQUIRED
            if passwordless
            else UserVerificationRequirement(mfa_settings.WEBAUTHN_USER_VERIFICATION)
        ),
        extensions={"credProps": True},
    )
    token = REGISTRATION_PREFIX + secrets.token_urlsafe(32)
    _challenge_store(
        purpose=Purpose.REGISTER,
        key=token,
        user=user,
        state={"fido2": state, "passwordless": passwordless},
    )
    return PasskeyRegistration(creation_options=dict(options), registration_token=token)


def passkey_register(
    *, request: HttpRequest, user: User, registration_token: str, credential: Any, name: str
) -> tuple[PasskeyInfo, list[str]]:
    """Verify the authenticator's answer and store the passkey; every other credential ends,
    logged and mailed. Answers the passkey and, for the first factor, the recovery codes (once)."""
    server = _server()
    pending = _challenge_pop(purpose=Purpose.REGISTER, key=registration_token, user=user)
    if pending is None:
        raise ValidationError({"registration_token": [BAD_TOKEN]})
    response = _parse(RegistrationResponse, credential)
    try:
        auth_data = server.register_complete(pending["fido2"], response)
    except ValueError as refused:
        auth_event("mfa.webauthn_refused", user_id=user.pk, step="register", reason=str(refused))
        raise ValidationError({"credential": [str(refused)]}) from None
    assert auth_data.credential_data is not None  # fido2 checks the AT flag
    credential_id = websafe_encode(auth_data.credential_data.credential_id)
    # A credential id is the key of a passwordless login: one registered elsewhere (an
    # authenticator can claim any id) must never shadow it.
    if Authenticator.objects.filter(
        type=Authenticator.Type.WEBAUTHN, data__credential_id=credential_id
    ).exists():
        raise ValidationError({"credential": ["This passkey is already registered."]})
    adapter = get_mfa_adapter()
    with transaction.atomic():
        passkey = Authenticator.objects.create(
            user=user,
            type=Authenticator.Type.WEBAUTHN,
            data={
                "name": name or adapter.generate_authenticator_name(user, "webauthn"),
                "credential": dict(response),
                "credential_id": credential_id,
                "sign_count": auth_data.counter,
                "passwordless": bool(pending["passwordless"]),
            },
        )
        codes = recovery_codes_create_if_missing(user=user)
        factor_changed(
            request=request,
            user=user,
            event="mfa.webauthn_added",
            notice="mfa/email/webauthn_added",
        )
    info = next(p for p in passkey_list(user=user) if p.id == passkey.pk)
    return info, codes


def _owned_passkey(*, user: User, passkey_id: int) -> Authenticator:
    passkey = Authenticator.objects.filter(
        pk=passkey_id, user=user, type=Authenticator.Type.WEBAUTHN
    ).first()
    if passkey is None:
        raise Authenticator.DoesNotExist
    return passkey


def passkey_rename(*, user: User, passkey_id: int, name: str) -> PasskeyInfo:
    """A new name for one of the user's passkeys (another user's is a DoesNotExist: 404)."""
    with transaction.atomic():
        passkey = _owned_passkey(user=user, passkey_id=passkey_id)
        passkey.data["name"] = name
        passkey.save(update_fields=["data"])
    return next(p for p in passkey_list(user=user) if p.id == passkey_id)


def passkey_delete(*, request: HttpRequest, user: User, passkey_id: int) -> None:
    """Remove a passkey (the last factor takes the recovery codes with it); every other
    credential ends, logged and mailed."""
    with transaction.atomic():
        _owned_passkey(user=user, passkey_id=passkey_id).delete()
        recovery_codes_drop_unless_mfa(user=user)
        factor_changed(
            request=request,
            user=user,
            event="mfa.webauthn_removed",
            notice="mfa/email/webauthn_removed",
        )


def passkey_assertion_start(*, purpose: str, key: str, user: User) -> dict[str, Any]:
    """Request options for the user's passkeys; the challenge is bound to `key` (5 minutes)."""
    server = _server()
    passkeys = _passkeys(user)
    if not passkeys:
        raise ValidationError("This account has no passkey.")
    options, state = server.authenticate_begin(
        credentials=[_credential_data(passkey) for passkey in passkeys],
        user_verification=UserVerificationRequirement(mfa_settings.WEBAUTHN_USER_VERIFICATION),
    )
    _challenge_store(purpose=purpose, key=key, user=user, state={"fido2": state})
    return dict(options)


def _assertion_verify(
    *, state: dict[str, Any], passkey: Authenticator, response: AuthenticationResponse
) -> None:
    """fido2's checks (type, origin, challenge, RP ID hash, flags, signature), then the signature
    counter, which must grow when the authenticator keeps one (a clone gives itself away)."""
    user_id = passkey.user_id
    try:
        _server().authenticate_complete(state, [_credential_data(passkey)], response)
    except ValueError as refused:
        auth_event("mfa.webauthn_refused", user_id=user_id, step="assert", reason=str(refused))
        raise ValidationError({"credential": [str(refused)]}) from None
    counter = response.response.authenticator_data.counter
    with transaction.atomic():
        locked = Authenticator.objects.select_for_update().get(pk=passkey.pk)
        stored = int(locked.data.get("sign_count", 0))
        if (counter or stored) and counter <= stored:
            auth_event("mfa.webauthn_counter_regressed", user_id=user_id, passkey_id=passkey.pk)
            raise ValidationError({"credential": [REPLAYED]})
        locked.data["sign_count"] = counter
        locked.last_used_at = timezone.now()
        locked.save(update_fields=["data", "last_used_at"])
    auth_event("mfa.webauthn_used", user_id=user_id, passkey_id=passkey.pk)


def passkey_assertion_check_limited(
    *, request: HttpRequest, user: User, purpose: str, key: str, credential: Any
) -> None:
    """An assertion of one of the user's passkeys, for the challenge bound to `key`, under the
    login limits (charged first, 429 beyond; refunded when right); a 400 says what was wrong."""
    account = login_attempt_start(request=request, identifier=user.get_username())
    try:
        _assertion_check(user=user, purpose=purpose, key=key, credential=credential)
    except ValidationError:
        # In the feed as a wrong code is: the account's second factor was answered wrongly.
        auth_event("mfa.code_failed", user_id=user.pk, via="webauthn")
        raise
    login_attempt_succeeded(account, request=request)


def _assertion_check(*, user: User, purpose: str, key: str, credential: Any) -> None:
    state = _challenge_pop(purpose=purpose, key=key, user=user)
    if state is None:
        raise ValidationError({"credential": [NO_CHALLENGE]})
    response = _parse(AuthenticationResponse, credential)
    passkey = next(
        (
            p
            for p in _passkeys(user)
            if p.data.get("credential_id") == websafe_encode(response.raw_id)
        ),
        None,
    )
    if passkey is None:
        auth_event("mfa.webauthn_refused", user_id=user.pk, step="assert", reason="unknown id")
        raise ValidationError({"credential": [UNKNOWN_PASSKEY]})
    _assertion_verify(state=state["fido2"], passkey=passkey, response=response)


def passkey_second_factor_start(*, request: HttpRequest, ephemeral_token: str) -> dict[str, Any]:
    """Request options for the second step of a pending login (its ephemeral token)."""
    attempt = mfa_login_attempt_get(request=request, ephemeral_token=ephemeral_token)
    return passkey_assertion_start(
        purpose=Purpose.SECOND_FACTOR, key=ephemeral_token, user=attempt.user
    )


def passkey_second_factor_complete(
    *, request: HttpRequest, ephemeral_token: str, credential: Any
) -> MfaLoginAttempt:
    """The second step with a passkey: the same limits and single use as with a code."""
    attempt = mfa_login_attempt_get(request=request, ephemeral_token=ephemeral_token)
    passkey_assertion_check_limited(
        request=request,
        user=attempt.user,
        purpose=Purpose.SECOND_FACTOR,
        key=ephemeral_token,
        credential=credential,
    )
    return mfa_login_attempt_spend(attempt)


def passkey_login_start(*, request: HttpRequest) -> PasskeyLogin:
    """Options for a passwordless sign-in (any discoverable passkey, user verification
    required) and the token their challenge is bound to; each costs the IP's login budget."""
    server = _server()
    ratelimit.consume_for_ip(LOGIN_IP, request)
    options, state = server.authenticate_begin(
        credentials=[], user_verification=UserVerificationRequirement.REQUIRED
    )
    token = LOGIN_PREFIX + secrets.token_urlsafe(32)
    _challenge_store(purpose=Purpose.LOGIN, key=token, user=None, state={"fido2": state})
    return PasskeyLogin(request_options=dict(options), login_token=token)


def passkey_login_complete(*, request: HttpRequest, login_token: str, credential: Any) -> User:
    """Sign in with a passkey alone: the passkey names the user; a wrong assertion of a known
    passkey counts against the account's login_failures, anything else against the IP's."""
    server_state = _challenge_pop(purpose=Purpose.LOGIN, key=login_token, user=None)
    if server_state is None:
        ratelimit.consume_for_ip(LOGIN_IP, request)
        raise ValidationError({"login_token": [BAD_TOKEN]})
    try:
        response = _parse(AuthenticationResponse, credential)
    except ValidationError:
        ratelimit.consume_for_ip(LOGIN_IP, request)
        raise
    passkey = (
        Authenticator.objects.select_related("user")
        .filter(
            type=Authenticator.Type.WEBAUTHN, data__credential_id=websafe_encode(response.raw_id)
        )
        .first()
    )
    user = passkey.user if passkey is not None else None
    expected_handle = (
        get_mfa_adapter().get_public_key_credential_user_entity(user)["id"] if user else b""
    )
    handle = response.response.user_handle
    if (
        passkey is None
        or user is None
        or not user.is_active
        or (handle and handle != expected_handle)
    ):
        ratelimit.consume_for_ip(LOGIN_IP, request)
        raise ValidationError({"credential": [UNKNOWN_PASSKEY]})
    if not passkey.data.get("passwordless"):
        ratelimit.consume_for_ip(LOGIN_IP, request)
        raise ValidationError({"credential": [SECOND_STEP_ONLY]})
    account = login_attempt_start(request=request, identifier=user.get_username())
    try:
        _assertion_verify(state=server_state["fido2"], passkey=passkey, response=response)
    except ValidationError:
        # A failed sign-in of this account, in its feed as a wrong password is.
        auth_event("login.failed", user_id=user.pk, via="webauthn")
        raise
    login_attempt_succeeded(account, request=request)
    mandatory = account_settings.EmailVerificationMethod.MANDATORY
    if (
        mandatory == account_settings.EMAIL_VERIFICATION
        and not EmailAddress.objects.filter(user=user, verified=True).exists()
    ):
        raise ValidationError(NOT_VERIFIED)
    auth_event("login.passkey", user_id=user.pk)
    return user
