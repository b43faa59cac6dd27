"""Our glue on dj-rest-auth's serializers, and the shapes of our own account endpoints."""

from typing import Any

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import get_adapter
from dj_rest_auth import serializers as rest_auth_serializers
from dj_rest_auth.registration.serializers import RegisterSerializer
from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from blogapi.accounts.identifiers import (
    EMAIL_MAX_LENGTH,
    USERNAME_TAKEN,
    normalize_username,
    username_taken,
    validate_email_length,
    validate_login_identifier,
)
from blogapi.accounts.models import AccountActivity, User, canonical_email
from blogapi.accounts.services.activity import FEED_EVENTS, activity_window_end
from blogapi.accounts.services.credentials import CREDENTIAL_KINDS
from blogapi.accounts.services.password import (
    BAD_LINK,
    BAD_LINK_FIELD,
    password_change,
    password_reset_confirm,
    password_reset_email_send,
)
from blogapi.accounts.validators import MAX_PASSWORD_LENGTH


def password_field(**kwargs: Any) -> serializers.CharField:
    """A password as typed: never trimmed (spaces count), at most 128 characters, never echoed."""
    return serializers.CharField(
        max_length=MAX_PASSWORD_LENGTH,
        trim_whitespace=False,
        write_only=True,
        style={"input_type": "password"},
        **kwargs,
    )


def email_field(**kwargs: Any) -> serializers.EmailField:
    """An address no longer than an account's can be once normalized (a 400, never a cut)."""
    return serializers.EmailField(
        max_length=EMAIL_MAX_LENGTH, validators=[validate_email_length], **kwargs
    )


class LoginInputSerializer(rest_auth_serializers.LoginSerializer):
    """dj-rest-auth's login plus an optional `device` label for the token it issues."""

    # A username or an address: checked against the longer limit an address has.
    username = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=EMAIL_MAX_LENGTH,
        validators=[validate_login_identifier],
    )
    email = email_field(required=False, allow_blank=True)
    password = password_field()

    device = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="A name for this device, shown in the token list; default: from User-Agent.",
    )


def email_verification_is_mandatory() -> bool:
    return bool(
        allauth_settings.EMAIL_VERIFICATION == allauth_settings.EmailVerificationMethod.MANDATORY
    )


class TokenOutputSerializer(serializers.Serializer):
    """`{"key": ...}`: the new token's key, shown this once and never again."""

    key = serializers.CharField(read_only=True)


class JwtRefreshedSerializer(serializers.Serializer):
    """dj-rest-auth's JWT shape: a short access JWT and the family's next refresh token.

    With AUTH_JWT_COOKIES the refresh token is only in its HttpOnly cookie, never in the body.
    """

    access = serializers.CharField(
        read_only=True, help_text="Send as `Authorization: Bearer <access>`."
    )
    if not settings.AUTH_JWT_COOKIES:
        refresh = serializers.CharField(
            read_only=True,
            help_text="Single use: POST it to token/refresh/ for the next pair.",
        )
    access_expiration = serializers.DateTimeField(read_only=True)
    refresh_expiration = serializers.DateTimeField(read_only=True)


class JwtRefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField(
        max_length=128,
        required=False,
        help_text="The refresh token from the login or the last refresh (or its cookie).",
    )


class JwtVerifyInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=2048, help_text="An access token.")


class RegisterInputSerializer(RegisterSerializer):
    """dj-rest-auth's registration: passwords exactly as typed, addresses unique by canonical form.

    With mandatory verification a taken address is not an error (that would reveal accounts):
    `email_taken` tells the view to mail the owner and answer as for a new address.
    """

    password1 = password_field()
    password2 = password_field()
    email_taken = False

    def validate_email(self, email: str) -> str:
        email = get_adapter().clean_email(email)
        canonical = canonical_email(email)
        self.email_taken = User.objects.filter(email_canonical=canonical).exists()
        if self.email_taken and not email_verification_is_mandatory():
            raise serializers.ValidationError(
                "A user is already registered with this e-mail address."
            )
        return email


class PasswordChangeSerializer(serializers.Serializer):
    """dj-rest-auth's change (old password required); then every other credential is revoked."""

    old_password = password_field()
    new_password1 = password_field()
    new_password2 = password_field()

    def save(self, **kwargs: Any) -> None:
        request = self.context["request"]
        password_change(request=request, user=request.user, **self.validated_data)


class PasswordResetConfirmSerializer(serializers.Serializer):
    """The reset link's uid and token and the new password; checked under a lock in save().

    A uid or token that is present but unusable (too long, not text, NUL bytes) gets the one
    answer of every bad link (BAD_LINK), like the links the flow refuses.
    """

    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password1 = password_field()
    new_password2 = password_field()

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as error:
            if not isinstance(error.detail, dict):
                raise
            errors: dict[str, Any] = dict(error.detail)
            link = {field: errors.pop(field) for field in ("uid", "token") if field in errors}
            codes = {getattr(e, "code", None) for messages in link.values() for e in messages}
            # Missing fields are named, as for any other field; anything else is a bad link.
            errors |= {BAD_LINK_FIELD: [BAD_LINK]} if codes - {"required"} else link
            raise serializers.ValidationError(errors) from None

    def save(self, **kwargs: Any) -> User:
        return password_reset_confirm(request=self.context["request"], **self.validated_data)


class PasswordResetSerializer(serializers.Serializer):
    """dj-rest-auth's reset request, mailed by our flow (working links, no deprecated reads)."""

    # Not dj-rest-auth's serializer: its form reverses a URL the project must supply
    # (NoReverseMatch, dj-rest-auth#152) and reads allauth's deprecated AUTHENTICATION_METHOD
    # (dj-rest-auth PR #756).
    email = email_field()

    def save(self, **kwargs: Any) -> None:
        password_reset_email_send(
            request=self.context["request"], email=self.validated_data["email"]
        )


class ResendEmailInputSerializer(serializers.Serializer):
    """dj-rest-auth's resend request: the address to send a new confirmation to."""

    email = email_field()


class EmailChangeInputSerializer(serializers.Serializer):
    """The new address and the current password; the address follows registration's rules."""

    email = email_field(help_text="The new address: a confirmation link is mailed to it.")
    password = password_field(help_text="Your current password.")

    def validate_email(self, email: str) -> str:
        return str(get_adapter().clean_email(email))


class EmailAddressOutputSerializer(serializers.Serializer):
    """One of the caller's addresses: the primary one, or a change waiting for confirmation."""

    email = serializers.EmailField()
    primary = serializers.BooleanField(
        help_text="The address of the account: sign-in, password reset and notices use it."
    )
    verified = serializers.BooleanField(
        help_text="False for a change whose link was not confirmed yet (it replaces the primary "
        "address once confirmed)."
    )


class VerifyEmailInputSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=256)


class UserDetailsSerializer(rest_auth_serializers.UserDetailsSerializer):
    """Your own details; a new username follows the rules of registration."""

    # The model field's validators (look-alikes, lengths) run as for any user. The uniqueness
    # check leaves the caller out: dj-rest-auth asks allauth's clean_username, which counts the
    # caller's own name as taken, so a PUT that kept it, or changed only its case, was refused.
    def validate_username(self, username: str) -> str:
        own_pk = self.instance.pk if isinstance(self.instance, User) else None
        if username_taken(username, exclude_pk=own_pk):
            raise serializers.ValidationError(USERNAME_TAKEN)
        return normalize_username(username)


class JwtOutputSerializer(JwtRefreshedSerializer):
    """What a JWT login answers: the tokens and the user (the `user/` fields)."""

    user = UserDetailsSerializer(read_only=True)  # REST_AUTH's USER_DETAILS_SERIALIZER


# The longest refresh token or access JWT we issue is well below these; longer is junk.
class UserOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ("id", "username")
        read_only_fields = fields


class CredentialOutputSerializer(serializers.Serializer):
    """One way the user is signed in: a device token or a browser session (never a secret)."""

    id = serializers.CharField(help_text="`token-<n>` or `session-<n>`; use it to revoke.")
    kind = serializers.ChoiceField(choices=list(CREDENTIAL_KINDS))
    # DRF's metaclass moves declared fields off the class, so this does not shadow Field.label.
    label = serializers.CharField()  # type: ignore[assignment]
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(
        help_text="Its last use, recorded at most once per AUTH_TOKEN_TOUCH_INTERVAL."
    )
    expires_at = serializers.DateTimeField(
        allow_null=True,
        help_text=(
            "When it stops working unless used again: the earlier of its absolute expiry and its "
            "idle timeout counted from `last_used_at` (tokens: AUTH_TOKEN_TTL and "
            "AUTH_TOKEN_IDLE_TTL; sessions: SESSION_COOKIE_AGE and AUTH_SESSION_IDLE_TTL)."
        ),
    )
    last_ip = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField()
    current = serializers.BooleanField(help_text="True for the credential of this request.")


def mfa_code_field(**kwargs: Any) -> serializers.CharField:
    """A TOTP code (6 digits) or a recovery code (29 characters with its dashes)."""
    return serializers.CharField(
        max_length=64, help_text="A code from the app, or a recovery code.", **kwargs
    )


class MfaStatusOutputSerializer(serializers.Serializer):
    """Which second factors the caller has (never a secret)."""

    mfa_enabled = serializers.BooleanField(source="enabled")
    totp = serializers.BooleanField()
    recovery_codes_left = serializers.IntegerField(allow_null=True)
    webauthn = serializers.IntegerField(help_text="How many passkeys.")


class TotpSetupOutputSerializer(serializers.Serializer):
    """A new TOTP secret for the authenticator app, and the token that activates it."""

    secret = serializers.CharField()
    totp_url = serializers.CharField()
    qr_code_data_uri = serializers.CharField()
    activation_token = serializers.CharField()


class TotpActivateInputSerializer(serializers.Serializer):
    """The token from GET mfa/totp/activate/ and a code the app shows for that secret."""

    activation_token = serializers.CharField(max_length=1000)
    code = mfa_code_field()


class MfaCodeInputSerializer(serializers.Serializer):
    """A current code: TOTP, or a recovery code."""

    code = mfa_code_field()


class RecoveryCodesOutputSerializer(serializers.Serializer):
    """A new set of recovery codes, shown this once."""

    recovery_codes = serializers.ListField(child=serializers.CharField())


class RecoveryCodesLeftSerializer(serializers.Serializer):
    """How many unused recovery codes are left (the codes themselves are never shown again)."""

    recovery_codes_left = serializers.IntegerField()


class MfaRequiredSerializer(serializers.Serializer):
    """A right password for a user with a second factor: no credential yet, the code step next."""

    mfa_required = serializers.BooleanField()
    ephemeral_token = serializers.CharField(help_text="For POST mfa/verify/; 5 minutes, once.")
    methods = serializers.ListField(child=serializers.CharField())


def webauthn_credential_field(**kwargs: Any) -> serializers.DictField:
    """A PublicKeyCredential as JSON (its toJSON(): base64url fields); fido2 checks the rest."""
    kwargs.setdefault(
        "help_text", "The PublicKeyCredential from navigator.credentials, as JSON (toJSON())."
    )
    return serializers.DictField(**kwargs)


def exactly_one(attrs: dict[str, Any], *names: str) -> dict[str, Any]:
    if sum(name in attrs for name in names) != 1:
        listed = " or ".join(f"`{name}`" for name in names)
        raise serializers.ValidationError(f"Send either {listed}.")
    return attrs


class MfaVerifyInputSerializer(serializers.Serializer):
    """The second step of a login: the ephemeral token and a TOTP or recovery code, or a
    passkey's assertion (after POST mfa/webauthn/authenticate/)."""

    ephemeral_token = serializers.CharField(max_length=100)
    code = mfa_code_field(required=False)
    credential = webauthn_credential_field(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return exactly_one(attrs, "code", "credential")


class ReauthenticateInputSerializer(serializers.Serializer):
    """Exactly one of the password, a second-factor code or a passkey assertion."""

    password = password_field(required=False)
    code = mfa_code_field(required=False)
    credential = webauthn_credential_field(
        required=False, help_text="A passkey's assertion for POST reauthenticate/webauthn/begin/."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return exactly_one(attrs, "password", "code", "credential")


class ReauthenticationRequiredSerializer(serializers.Serializer):
    """403 before a sensitive step: reauthenticate first."""

    detail = serializers.CharField()
    code = serializers.CharField()


class PasskeyOutputSerializer(serializers.Serializer):
    """A passkey as its owner sees it (never key material)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    passwordless = serializers.BooleanField(
        help_text="Whether it signs in alone (mfa/webauthn/login/), not only as the second step."
    )


def passkey_name_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(max_length=100, help_text="Shown in the list.", **kwargs)


class PasskeyRegisterBeginInputSerializer(serializers.Serializer):
    """Whether the new passkey is to sign in without a password (discoverable, verified user)."""

    passwordless = serializers.BooleanField(default=False)


class PasskeyCreationOutputSerializer(serializers.Serializer):
    """Options for navigator.credentials.create(), and the token their challenge is bound to."""

    creation_options = serializers.DictField(
        help_text=(
            "`{publicKey: ...}`, base64url fields "
            "(PublicKeyCredential.parseCreationOptionsFromJSON)."
        )
    )
    registration_token = serializers.CharField(
        help_text="For POST mfa/webauthn/register/; 5 minutes, once."
    )


class PasskeyRegisterInputSerializer(serializers.Serializer):
    """The token from register/begin/ and the authenticator's answer."""

    registration_token = serializers.CharField(max_length=100)
    credential = webauthn_credential_field()
    name = passkey_name_field(required=False, allow_blank=True, default="")


class PasskeyRegisteredOutputSerializer(serializers.Serializer):
    """The new passkey, and the recovery codes when it is the first factor (shown this once)."""

    passkey = PasskeyOutputSerializer()
    recovery_codes = serializers.ListField(child=serializers.CharField())


class PasskeyRenameInputSerializer(serializers.Serializer):
    """A new name."""

    name = passkey_name_field()


class PasskeyRequestOutputSerializer(serializers.Serializer):
    """Options for navigator.credentials.get()."""

    request_options = serializers.DictField(
        help_text=(
            "`{publicKey: ...}`, base64url fields "
            "(PublicKeyCredential.parseRequestOptionsFromJSON)."
        )
    )


class PasskeySecondFactorInputSerializer(serializers.Serializer):
    """The ephemeral token of a login waiting for its second step."""

    ephemeral_token = serializers.CharField(max_length=100)


class PasskeyLoginOptionsOutputSerializer(PasskeyRequestOutputSerializer):
    """Options for navigator.credentials.get(), and the token their challenge is bound to."""

    login_token = serializers.CharField(help_text="For POST mfa/webauthn/login/; 5 minutes, once.")


class PasskeyLoginInputSerializer(serializers.Serializer):
    """A passwordless sign-in: the token from login/begin/ and the passkey's assertion."""

    login_token = serializers.CharField(max_length=100)
    credential = webauthn_credential_field()
    device = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="A name for this device, shown in the token list; default: from User-Agent.",
    )


class ActivityOutputSerializer(serializers.ModelSerializer):
    """One event of the caller's security activity feed (never a secret, never a typed name)."""

    event = serializers.ChoiceField(choices=FEED_EVENTS, read_only=True)
    created_at = serializers.DateTimeField(
        read_only=True, help_text="When it happened; for a counted row, its first occurrence."
    )
    count = serializers.IntegerField(
        read_only=True,
        help_text=(
            "How many times: 1, except for failed sign-ins and password checks, lockouts and "
            "wrong codes, counted in one row per hour."
        ),
    )
    window_end = serializers.SerializerMethodField(
        help_text="For a counted row, when its hour ends; else null."
    )
    ip = serializers.IPAddressField(read_only=True, allow_null=True)
    actor = serializers.ChoiceField(
        choices=AccountActivity.Actor.choices,
        read_only=True,
        help_text=(
            "Who acted: `self` (you, or whoever signed in or tried to), `staff` (an administrator)"
            " or `system` (the server: a stolen refresh token detected, an idle session ended, "
            "a management command)."
        ),
    )
    details = serializers.DictField(
        read_only=True,
        help_text=(
            "Per event: `via` (sign-in method: token, session, basic, jwt); `kind` and "
            "`token_id`/`family_id`/`session_id` (a credential, as in tokens/ ids "
            "`<kind>-<id>`); `count` and `ids` (credentials revoked); `left` (recovery codes); "
            "`erase_at` (a deletion asked for)."
        ),
    )

    class Meta:
        model = AccountActivity
        fields = (
            "id",
            "event",
            "created_at",
            "count",
            "window_end",
            "ip",
            "user_agent",
            "device",
            "actor",
            "details",
        )
        read_only_fields = fields

    @extend_schema_field({"type": "string", "format": "date-time", "nullable": True})
    def get_window_end(self, row: AccountActivity) -> Any:
        return activity_window_end(row)


class AccountDeleteInputSerializer(serializers.Serializer):
    """The password, and when the account has a second factor one code or passkey assertion."""

    password = password_field()
    code = serializers.CharField(
        max_length=64,
        required=False,
        help_text="With two-factor sign-in on: a code from the app, or a recovery code.",
    )
    credential = webauthn_credential_field(
        required=False,
        help_text=(
            "With two-factor sign-in on, instead of `code`: a passkey's assertion for the "
            "options of POST reauthenticate/webauthn/begin/ (asked with this credential)."
        ),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "code" in attrs and "credential" in attrs:
            raise serializers.ValidationError("Send either `code` or `credential`, not both.")
        return attrs


class DeletionScheduledSerializer(serializers.Serializer):
    """A deletion accepted: when the account is erased, and what goes with it."""

    detail = serializers.CharField()
    erase_at = serializers.DateTimeField(
        help_text="From then on `purge_deleted_accounts` erases the account; a sign-in cancels."
    )
    posts_deleted_with_account = serializers.BooleanField(
        help_text="Always true: the account's posts are erased with it."
    )
