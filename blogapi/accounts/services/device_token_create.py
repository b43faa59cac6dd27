"""Issue a per-device token at login or registration."""

import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from blogapi.accounts.devices import device_label, user_agent
from blogapi.accounts.events import auth_event, login_succeeded
from blogapi.accounts.models import TOKEN_PREFIX, DeviceToken, User, token_digest
from blogapi.core.clients import client_ip


@dataclass(frozen=True)
class IssuedToken:
    """A new token row and its key; the key exists only here and in the one response."""

    token: DeviceToken
    key: str


@transaction.atomic
def device_token_create(
    *, user: User, request: HttpRequest, label: str | None = None
) -> IssuedToken:
    """Create a token for this device, dropping the user's least recently used beyond the cap."""
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    agent = user_agent(request)
    token = DeviceToken.objects.create(
        user=user,
        digest=token_digest(key),
        label=(label or "").strip() or device_label(agent),
        created_at=now,
        expires_at=now + settings.AUTH_TOKEN_TTL,
        last_used_at=now,
        last_ip=client_ip(request),
        user_agent=agent,
    )
    surplus = DeviceToken.objects.filter(user=user).order_by("-last_used_at", "-pk")[
        settings.AUTH_TOKEN_MAX_PER_USER :
    ]
    DeviceToken.objects.filter(pk__in=list(surplus.values_list("pk", flat=True))).delete()
    auth_event("credential.created", kind="token", user_id=user.pk, token_id=token.pk)
    return IssuedToken(token=token, key=key)


def device_token_create_for_login(token_model: Any, user: User, serializer: Any) -> IssuedToken:
    """dj-rest-auth's TOKEN_CREATOR hook: label from the login's `device` field or User-Agent."""
    request = serializer.context["request"]
    label = getattr(serializer, "validated_data", {}).get("device")
    login_succeeded(request=request, user=user, via="token")
    return device_token_create(user=user, request=request, label=label)
