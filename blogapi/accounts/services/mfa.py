"""Two-factor sign-in: TOTP and recovery codes on allauth.mfa's Authenticator, and the login step.

allauth.mfa's public pieces are used as they are: the Authenticator model and the MFA adapter
(TOTP URL and QR code, encrypt/decrypt of the secret, notification mails). Its TOTP and
recovery-code classes live in `internal` modules, so what they would do is done here: the RFC 6238
check by pyotp (with allauth's settings), single use of a time step through a database row
(allauth marks used codes in the cache, per process without Redis), and recovery codes stored as
digests only (allauth stores a seed the codes can be derived from).
"""

import base64
import secrets
from dataclasses import dataclass
from datetime import timedelta

import pyotp
from allauth.account.models import EmailAddress
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from blogapi.accounts.events import auth_event
from blogapi.accounts.limits import LOGIN_IP, login_attempt_start, login_attempt_succeeded
from blogapi.accounts.mfa_encryption import SecretUnreadable
from blogapi.accounts.models import MfaLoginAttempt, UsedTotpCode, User, token_digest
from blogapi.accounts.services.credentials import credential_in_use, credentials_revoke_all
from blogapi.core import ratelimit

MFA_LOGIN_TTL = timedelta(minutes=5)
ACTIVATION_TTL_SECONDS = 600
_ACTIVATION_SALT = "blogapi.accounts.mfa.totp-activation"
RECOVERY_CODE_COUNT = 10
# 25 base32 characters = 125 random bits: above the 112 bits under which look-up secrets need a
# slow salted hash (NIST 800-63B), so a SHA-256 digest is enough and a check costs microseconds.
RECOVERY_CODE_CHARS = 25
EPHEMERAL_PREFIX = "mfa_"
INCORRECT_CODE = "Incorrect code."
BAD_EPHEMERAL = "This sign-in has expired or was already completed: sign in again."
TOTP_UNAVAILABLE = (
    "Authenticator app codes cannot be checked for this account at the moment: use a recovery "
    "code, or contact support."
)


@dataclass(frozen=True)
class TotpSetup:
    """A new TOTP secret offered for activation, and the token that binds it to the user."""

    secret: str
    totp_url: str
    qr_code_data_uri: str
    activation_token: str


@dataclass(frozen=True)
class MfaStatus:
    """Which factors a user has; never a secret."""

    totp: bool
    recovery_codes_left: int | None
    webauthn: int

    @property
    def enabled(self) -> bool:
        return self.totp or self.webauthn > 0


def _authenticator(user: User, kind: str) -> Authenticator | None:
    return Authenticator.objects.filter(user=user, type=kind).first()


# The factors that turn two-factor sign-in on; recovery codes only come with one of them.
FACTOR_TYPES = [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]


def mfa_enabled(user: User) -> bool:
    """Whether a password alone no longer signs this user in (TOTP or a passkey)."""
    return bool(get_mfa_adapter().is_mfa_enabled(user, types=FACTOR_TYPES))


def mfa_status_get(*, user: User) -> MfaStatus:
    """The user's factors and how many recovery codes are left."""
    codes = _authenticator(user, Authenticator.Type.RECOVERY_CODES)
    return MfaStatus(
        totp=_authenticator(user, Authenticator.Type.TOTP) is not None,
        recovery_codes_left=len(codes.data["digests"]) if codes is not None else None,
        webauthn=Authenticator.objects.filter(user=user, type=Authenticator.Type.WEBAUTHN).count(),
    )


def mfa_methods(user: User) -> list[str]:
    """What a login answers in `methods`: the ways this user can pass the second step."""
    types = set(Authenticator.objects.filter(user=user).values_list("type", flat=True))
    order = ["totp", "recovery_codes", "webauthn"]
    return [kind for kind in order if kind in types]


def _totp_counter(secret: str, code: str) -> int | None:
    """The time step `code` is valid for now (within allauth's tolerance), if any."""
    # SHA-1, as allauth (and every authenticator app) computes codes; a constant-time comparison.
    totp = pyotp.TOTP(secret, digits=mfa_settings.TOTP_DIGITS, interval=mfa_settings.TOTP_PERIOD)
    try:
        return totp.verify_and_get_timecode(code, valid_window=mfa_settings.TOTP_TOLERANCE)
    except pyotp.OTPVerificationError:
        return None


def _looks_like_totp(code: str) -> bool:
    # isascii(): str.isdigit() also accepts other scripts' digits, which compare_digest refuses.
    code = code.strip()
    return code.isascii() and code.isdigit() and len(code) == mfa_settings.TOTP_DIGITS


def _totp_code_accept(*, user: User, secret: str, code: str) -> bool:
    """Whether `code` is valid now and was never accepted before (on any server)."""
    if not _looks_like_totp(code):
        return False
    counter = _totp_counter(secret, code.strip())
    if counter is None:
        return False
    try:
        with transaction.atomic():
            UsedTotpCode.objects.create(user=user, counter=counter)
    except IntegrityError:
        auth_event("mfa.totp_replayed", user_id=user.pk)
        return False
    # Steps older than the tolerance window can never be accepted again: no need to keep them.
    UsedTotpCode.objects.filter(
        user=user, counter__lt=counter - 2 * mfa_settings.TOTP_TOLERANCE - 1
    ).delete()
    return True


def _totp_secret(totp: Authenticator) -> str:
    """The secret in clear; a 400 (logged) when the configured keys cannot decrypt it."""
    try:
        return get_mfa_adapter().decrypt(totp.data["secret"])
    except SecretUnreadable:
        # A lost or wrong AUTH_MFA_ENCRYPTION_KEYS: recovery codes (digests) still work.
        auth_event("mfa.totp_secret_unreadable", user_id=totp.user_id, authenticator_id=totp.pk)
        raise ValidationError({"code": [TOTP_UNAVAILABLE]}) from None


def _normalize_recovery_code(code: str) -> str:
    return code.replace("-", "").replace(" ", "").strip().upper()


def _recovery_code_use(*, user: User, code: str) -> bool:
    """Spend one recovery code: True once per code, under a row lock against a racing use."""
    digest = token_digest(_normalize_recovery_code(code))
    with transaction.atomic():
        codes = (
            Authenticator.objects.select_for_update()
            .filter(user=user, type=Authenticator.Type.RECOVERY_CODES)
            .first()
        )
        if codes is None or digest not in codes.data["digests"]:
            return False
        codes.data["digests"].remove(digest)
        codes.last_used_at = timezone.now()
        codes.save(update_fields=["data", "last_used_at"])
    auth_event("mfa.recovery_code_used", user_id=user.pk, left=len(codes.data["digests"]))
    return True


def mfa_code_check(*, user: User, code: str) -> bool:
    """A TOTP code (single use per time step) or a recovery code (single use)."""
    if _looks_like_totp(code):
        totp = _authenticator(user, Authenticator.Type.TOTP)
        return totp is not None and _totp_code_accept(
            user=user, secret=_totp_secret(totp), code=code
        )
    # A passkey-only user has recovery codes too.
    return _recovery_code_use(user=user, code=code)


def _new_recovery_codes() -> list[str]:
    """Codes of 125 random bits, in groups of five base32 characters for reading aloud."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(16)).decode()[:RECOVERY_CODE_CHARS]
        codes.append("-".join(raw[i : i + 5] for i in range(0, RECOVERY_CODE_CHARS, 5)))
    return codes


def _recovery_codes_store(user: User) -> list[str]:
    codes = _new_recovery_codes()
    digests = [token_digest(_normalize_recovery_code(c)) for c in codes]
    Authenticator.objects.update_or_create(
        user=user,
        type=Authenticator.Type.RECOVERY_CODES,
        defaults={"data": {"digests": digests}, "last_used_at": None},
    )
    return codes


def recovery_codes_create_if_missing(*, user: User) -> list[str]:
    """The first factor brings recovery codes (answered once); a later one keeps the set."""
    if _authenticator(user, Authenticator.Type.RECOVERY_CODES) is not None:
        return []
    return _recovery_codes_store(user)


def factor_changed(*, request: HttpRequest, user: User, event: str, notice: str) -> None:
    """A factor added or removed: every other credential ends, logged and mailed."""
    credentials_revoke_all(user=user, keep=credential_in_use(request))
    auth_event(event, user_id=user.pk)
    get_mfa_adapter().send_notification_mail(notice, user)


def totp_setup_start(*, user: User) -> TotpSetup:
    """A fresh secret, its otpauth:// URL and QR code, and a signed activation token."""
    if _authenticator(user, Authenticator.Type.TOTP) is not None:
        raise ValidationError("Two-factor sign-in is already on.")
    if not EmailAddress.objects.filter(user=user, verified=True).exists():
        # allauth's rule (MFA_ALLOW_UNVERIFIED_EMAIL): recovery must not hinge on a stranger's box.
        raise ValidationError(get_mfa_adapter().error_messages["unverified_email"])
    secret = base64.b32encode(secrets.token_bytes(20)).decode()
    adapter = get_mfa_adapter()
    url = adapter.build_totp_url(user, secret)
    svg = adapter.build_totp_svg(url)
    token = signing.dumps({"user": user.pk, "secret": secret}, salt=_ACTIVATION_SALT)
    return TotpSetup(
        secret=secret,
        totp_url=url,
        qr_code_data_uri="data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode(),
        activation_token=token,
    )


def totp_activate(
    *, request: HttpRequest, user: User, activation_token: str, code: str
) -> list[str]:
    """Turn TOTP on with a code from the app; answers the new recovery codes (shown once)."""
    try:
        payload = signing.loads(
            activation_token, salt=_ACTIVATION_SALT, max_age=ACTIVATION_TTL_SECONDS
        )
    except signing.BadSignature:
        raise ValidationError({"activation_token": ["Invalid or expired: start again."]}) from None
    if not isinstance(payload, dict) or payload.get("user") != user.pk:
        raise ValidationError({"activation_token": ["Invalid or expired: start again."]})
    secret = str(payload["secret"])
    if not _totp_code_accept(user=user, secret=secret, code=code):
        raise ValidationError({"code": [INCORRECT_CODE]})
    with transaction.atomic():
        try:
            with transaction.atomic():
                Authenticator.objects.create(
                    user=user,
                    type=Authenticator.Type.TOTP,
                    data={"secret": get_mfa_adapter().encrypt(secret)},
                )
        except IntegrityError:
            raise ValidationError("Two-factor sign-in is already on.") from None
        codes = recovery_codes_create_if_missing(user=user)
        factor_changed(
            request=request,
            user=user,
            event="mfa.totp_activated",
            notice="mfa/email/totp_activated",
        )
    return codes


def totp_deactivate(*, request: HttpRequest, user: User, code: str) -> None:
    """Turn TOTP (and with it the recovery codes) off, proven by a current code."""
    if _authenticator(user, Authenticator.Type.TOTP) is None:
        raise ValidationError("Two-factor sign-in is not on.")
    if not mfa_code_check_limited(request=request, user=user, code=code):
        raise ValidationError({"code": [INCORRECT_CODE]})
    with transaction.atomic():
        Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).delete()
        recovery_codes_drop_unless_mfa(user=user)
        factor_changed(
            request=request,
            user=user,
            event="mfa.totp_deactivated",
            notice="mfa/email/totp_deactivated",
        )


def recovery_codes_drop_unless_mfa(*, user: User) -> None:
    """The last factor gone: the recovery codes go with it (they alone are no second factor)."""
    if not mfa_enabled(user):
        Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).delete()


def mfa_factors_remove(*, user: User, by_staff: User) -> bool:
    """Staff remove every factor of `user`: all credentials end, logged with the staff id, mailed.

    Answers whether there was anything to remove (nothing happens otherwise).
    """
    with transaction.atomic():
        removed, _ = Authenticator.objects.filter(user=user).delete()
        if not removed:
            return False
        # No credential is kept: the one in use is the staff member's, not the user's.
        credentials_revoke_all(user=user)
        auth_event("mfa.removed_by_staff", user_id=user.pk, staff_id=by_staff.pk)
        # Inside: the notice's task commits (or rolls back) with the removal (issue 20).
        get_mfa_adapter().send_notification_mail("mfa/email/totp_deactivated", user)
    return True


@transaction.atomic
def recovery_codes_regenerate(*, request: HttpRequest, user: User) -> list[str]:
    """A new set of recovery codes (shown once); the old set stops working."""
    if not mfa_enabled(user):
        raise ValidationError(get_mfa_adapter().error_messages["cannot_generate_recovery_codes"])
    codes = _recovery_codes_store(user)
    auth_event("mfa.recovery_codes_generated", user_id=user.pk)
    get_mfa_adapter().send_notification_mail("mfa/email/recovery_codes_generated", user)
    return codes


def mfa_code_check_limited(*, request: HttpRequest, user: User, code: str) -> bool:
    """A code checked under the login limits: charged first (429 beyond), refunded when right."""
    account = login_attempt_start(request=request, identifier=user.get_username())
    if not mfa_code_check(user=user, code=code):
        auth_event("mfa.code_failed", user_id=user.pk, via="code")
        return False
    login_attempt_succeeded(account, request=request)
    return True


def mfa_login_start(*, user: User, label: str | None) -> str:
    """The password was right: an ephemeral token (5 minutes, single use) for the code step."""
    token = EPHEMERAL_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    MfaLoginAttempt.objects.filter(user=user, expires_at__lte=now).delete()
    MfaLoginAttempt.objects.create(
        user=user,
        digest=token_digest(token),
        label=(label or "")[:100],
        created_at=now,
        expires_at=now + MFA_LOGIN_TTL,
    )
    auth_event("login.mfa_required", user_id=user.pk)
    return token


def mfa_login_attempt_get(*, request: HttpRequest, ephemeral_token: str) -> MfaLoginAttempt:
    """The pending login of an ephemeral token, or a 400 (charged to the IP's login budget)."""
    attempt = (
        MfaLoginAttempt.objects.select_related("user")
        .filter(digest=token_digest(ephemeral_token), expires_at__gt=timezone.now())
        .first()
    )
    if attempt is None or not attempt.user.is_active:
        # Guessing tokens costs the IP's login budget, as guessing passwords does.
        ratelimit.consume_for_ip(LOGIN_IP, request)
        raise ValidationError({"ephemeral_token": [BAD_EPHEMERAL]})
    return attempt


def mfa_login_methods(*, ephemeral_token: str) -> list[str]:
    """The ways a pending login can pass its second step ([] when it is expired or unknown).

    Charges nothing: the HTML code pages call it with the token they keep in the session, which
    the client never sees (mfa_login_attempt_get charges a token the client presents).
    """
    attempt = (
        MfaLoginAttempt.objects.select_related("user")
        .filter(digest=token_digest(ephemeral_token), expires_at__gt=timezone.now())
        .first()
    )
    return mfa_methods(attempt.user) if attempt is not None else []


def mfa_login_attempt_spend(attempt: MfaLoginAttempt) -> MfaLoginAttempt:
    """The second factor was right: the attempt is deleted, once (a racing verify gets a 400)."""
    deleted, _ = MfaLoginAttempt.objects.filter(pk=attempt.pk).delete()
    if not deleted:
        raise ValidationError({"ephemeral_token": [BAD_EPHEMERAL]})
    return attempt


def mfa_login_complete(*, request: HttpRequest, ephemeral_token: str, code: str) -> MfaLoginAttempt:
    """Check the code of a pending login; the attempt is spent (deleted) once, when it is right."""
    attempt = mfa_login_attempt_get(request=request, ephemeral_token=ephemeral_token)
    if not mfa_code_check_limited(request=request, user=attempt.user, code=code):
        raise ValidationError({"code": [INCORRECT_CODE]})
    return mfa_login_attempt_spend(attempt)
