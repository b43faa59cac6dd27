"""Our glue on dj-rest-auth's serializers, and the shapes of our own account endpoints."""

from typing import Any

from dj_rest_auth import serializers as rest_auth_serializers
from django.contrib.auth import SESSION_KEY
from rest_framework import serializers

from blogapi.accounts.forms import PasswordResetForm
from blogapi.accounts.models import DeviceToken, User
from blogapi.accounts.services.credentials_revoke import credentials_revoke_all
from blogapi.accounts.services.user_session_record import user_session_record


class LoginInputSerializer(rest_auth_serializers.LoginSerializer):
    """dj-rest-auth's login plus an optional `device` label for the token it issues."""

    device = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="A name for this device, shown in the token list; default: from User-Agent.",
    )


class TokenOutputSerializer(serializers.Serializer):
    """`{"key": ...}`: the new token's key, shown this once and never again."""

    key = serializers.CharField(read_only=True)


class PasswordChangeSerializer(rest_auth_serializers.PasswordChangeSerializer):
    """dj-rest-auth's change (old password required); then every other credential is revoked."""

    def save(self) -> None:
        super().save()
        request = self.context["request"]
        keep_token = request.auth if isinstance(request.auth, DeviceToken) else None
        # update_session_auth_hash() has just cycled the session key: keep the new one.
        session = request.session
        keep_session_key = session.session_key if session.get(SESSION_KEY) else None
        credentials_revoke_all(
            user=self.user, keep_token=keep_token, keep_session_key=keep_session_key
        )
        if keep_session_key:
            user_session_record(request=request, user=self.user)


class PasswordResetConfirmSerializer(rest_auth_serializers.PasswordResetConfirmSerializer):
    """dj-rest-auth's reset confirm; then every credential of the user is revoked."""

    def save(self) -> Any:
        user = super().save()
        credentials_revoke_all(user=self.user)
        return user


class PasswordResetSerializer(rest_auth_serializers.PasswordResetSerializer):
    """dj-rest-auth's reset request, mailed by our form (working links, no deprecated reads)."""

    @property
    def password_reset_form_class(self) -> type[PasswordResetForm]:
        return PasswordResetForm


class VerifyEmailInputSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=256)


class UserOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ("id", "username")
        read_only_fields = fields


class CredentialOutputSerializer(serializers.Serializer):
    """One way the user is signed in: a device token or a browser session (never a secret)."""

    id = serializers.CharField(help_text="`token-<n>` or `session-<n>`; use it to revoke.")
    kind = serializers.ChoiceField(choices=["token", "session"])
    # DRF's metaclass moves declared fields off the class, so this does not shadow Field.label.
    label = serializers.CharField()  # type: ignore[assignment]
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    last_ip = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField()
    current = serializers.BooleanField(help_text="True for the credential of this request.")
