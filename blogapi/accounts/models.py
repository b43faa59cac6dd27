"""Users and their per-device API tokens.

Why our own token model rather than django-rest-knox (the anchor): knox keeps a hashed, expiring
token per login, but has no device label, no idle timeout next to the absolute one, no last-used
IP/user agent, and its authentication takes two queries (token, then user) and deletes expired
rows while authenticating. This model adds exactly those, and nothing else.
"""

import hashlib
import unicodedata
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "blogapi_"  # noqa: S105 - a public marker for secret scanners, not a secret


def token_digest(key: str) -> str:
    """SHA-256 of a key: the key carries 256 random bits, so no salt or slow hash is needed."""
    return hashlib.sha256(key.encode()).hexdigest()


def canonical_email(email: str) -> str:
    """One spelling per mailbox name for uniqueness: NFKC, then Unicode case-insensitive.

    Upper-casing first folds look-alikes that lower-casing keeps apart ('m\u0131ke' and 'mike' both
    become 'MIKE'), so they cannot be two accounts, and a lookup by one never mails the other.
    The database's own UPPER() differs between SQLite (ASCII only) and PostgreSQL: hence a column.
    """
    return unicodedata.normalize("NFKC", email.strip()).upper().casefold()


class User(AbstractUser):
    """A blog author or reader; authentication data lives in allauth and the token tables."""

    # NULL, not '', for users without an address: unique allows many NULLs but one ''.
    email_canonical = models.CharField(  # noqa: DJ001
        max_length=254, unique=True, null=True, editable=False
    )

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email_canonical = canonical_email(self.email) or None
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "email" in update_fields:
            kwargs["update_fields"] = {*update_fields, "email_canonical"}
        super().save(*args, **kwargs)


class DeviceTokenQuerySet(models.QuerySet["DeviceToken"]):
    def expired(self, now: datetime) -> "DeviceTokenQuerySet":
        """Past the absolute lifetime, or unused for longer than the idle timeout."""
        return self.filter(
            models.Q(expires_at__lte=now)
            | models.Q(last_used_at__lte=now - settings.AUTH_TOKEN_IDLE_TTL)
        )

    def live(self, now: datetime) -> "DeviceTokenQuerySet":
        return self.exclude(pk__in=self.expired(now).values("pk"))


class DeviceToken(models.Model):
    """One login on one device: the key is shown once; only its SHA-256 digest is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="device_tokens"
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    label = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField()
    last_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)

    objects = DeviceTokenQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["user", "last_used_at"], name="devicetoken_user_lru")]

    def __str__(self) -> str:
        return f"{self.label} ({self.user_id})"

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at <= now or self.last_used_at <= now - settings.AUTH_TOKEN_IDLE_TTL

    def needs_touch(self, now: datetime) -> bool:
        """Whether last_used_at is stale enough to be worth a write (at most one per interval)."""
        return now - self.last_used_at >= settings.AUTH_TOKEN_TOUCH_INTERVAL
