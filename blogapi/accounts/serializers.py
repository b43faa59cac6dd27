"""Our glue on dj-rest-auth's serializers, and the user output shape."""

from dj_rest_auth import serializers as rest_auth_serializers
from rest_framework import serializers

from blogapi.accounts.forms import PasswordResetForm
from blogapi.accounts.models import User


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
