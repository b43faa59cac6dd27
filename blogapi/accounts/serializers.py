"""Our glue on dj-rest-auth's serializers, and the user output shape."""

from typing import Any

from dj_rest_auth import serializers as rest_auth_serializers
from rest_framework import serializers

from blogapi.accounts.links import password_reset_url
from blogapi.accounts.models import User


class PasswordResetSerializer(rest_auth_serializers.PasswordResetSerializer):
    """dj-rest-auth's reset request with a link that resolves (its default: NoReverseMatch)."""

    def get_email_options(self) -> dict[str, Any]:
        return {"url_generator": password_reset_url}


class VerifyEmailInputSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=256)


class UserOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ("id", "username")
        read_only_fields = fields
