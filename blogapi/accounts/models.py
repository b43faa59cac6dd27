"""Users and their per-device API tokens.

Why our own token model rather than django-rest-knox (the anchor): knox keeps a hashed, expiring
token per login, but has no device label, no idle timeout next to the absolute one, no last-used
IP/user agent, and its authentication takes two queries (token, then user) and deletes expired
rows while authenticating. This model adds exactly those, and nothing else.
"""

import hashlib
from collections.abc import Collection
from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.dispatch import Signal
from django.utils import timezone

from blogapi.accounts.identifiers import (
    USERNAME_MAX_LENGTH,
    USERNAME_TAKEN,
    canonical_identifier,
    normalize_username,
    username_taken,
    validate_email_length,
    validate_username,
)

TOKEN_PREFIX = "blogapi_"  # noqa: S105 - a public marker for secret scanners, not a secret


def token_digest(key: str) -> str:
    """SHA-256 of a key: the key carries 256 random bits, so no salt or slow hash is needed."""
    return hashlib.sha256(key.encode()).hexdigest()


# One spelling per mailbox (and per username): a look-alike spelling cannot be a second account,
# and a lookup by one never mails the other.
canonical_email = canonical_identifier


# Sent by User.save() inside its transaction; blogapi.accounts.signals revokes credentials.
password_hash_changed = Signal()  # kwargs: user
user_deactivated = Signal()  # kwargs: user
# Sent by the purge of deleted accounts just before it deletes the user, in its transaction: the
# apps that hold much of an account's data delete it themselves, in bulk (posts: its signals).
account_erasing = Signal()  # kwargs: user


class CanonicalField(models.CharField):
    """canonical_identifier() of another field, computed whenever the row is written.

    In pre_save, not save(): bulk_create() skips save() but not this, so no write path leaves a
    row whose uniqueness column says nothing of its name.
    """

    def __init__(self, *args: Any, source: str, **kwargs: Any) -> None:
        self.source = source
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        return name, path, args, {**kwargs, "source": self.source}

    def pre_save(self, model_instance: models.Model, add: bool) -> str | None:
        if self.source in model_instance.get_deferred_fields():  # reading it costs a query
            return getattr(model_instance, self.attname)
        value = canonical_identifier(getattr(model_instance, self.source) or "")
        canonical = None if self.null and not value else value
        setattr(model_instance, self.attname, canonical)
        return canonical


class UserManager(DjangoUserManager["User"]):
    """Django's manager; a username's natural key is any of its spellings (canonical form)."""

    def get_by_natural_key(self, username: str | None) -> "User":
        # createsuperuser's "already taken" check and fixtures look users up by natural key.
        return self.get(username_canonical=canonical_identifier(username or ""))


class User(AbstractUser):
    """A blog author or reader; authentication data lives in allauth and the token tables.

    Whatever path saves a new password hash (the API, the admin, `changepassword`, any code
    calling set_password() and save()) or deactivates the user, save() announces it, and every
    credential of the user is revoked (blogapi.accounts.signals). A hash that only changes
    encoding at login (a hasher upgrade) is the same password and revokes nothing.

    Usernames are stored NFKC-normalized and are unique in their canonical form, as addresses
    are (blogapi.accounts.identifiers): 'ALICE', or alice in full-width letters, is alice's name.
    """

    # Django's field with our rules added: its validators run in the admin's forms, in
    # `createsuperuser` and (as allauth's USERNAME_VALIDATORS) in every registration.
    username = models.CharField(
        "username",
        max_length=USERNAME_MAX_LENGTH,
        unique=True,
        help_text="Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only.",
        validators=[UnicodeUsernameValidator(), validate_username],
        error_messages={"unique": USERNAME_TAKEN},
    )
    username_canonical = CanonicalField(
        source="username", max_length=USERNAME_MAX_LENGTH, unique=True
    )
    email = models.EmailField("email address", blank=True, validators=[validate_email_length])
    # NULL, not '', for users without an address: unique allows many NULLs but one ''.
    email_canonical = CanonicalField(source="email", max_length=254, unique=True, null=True)

    objects: ClassVar[UserManager] = UserManager()

    # The stored password hash and active flag as last read or written (None: unknown), and
    # whether set_password() gave this instance a new password since.
    _stored_password: str | None = None
    _stored_is_active: bool | None = None
    _password_set = False
    _rehashing = False

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> "User":
        user = super().from_db(db, field_names, values)
        user._remember_stored_state()
        return user

    def _remember_stored_state(self) -> None:
        deferred = self.get_deferred_fields()
        self._stored_password = None if "password" in deferred else self.password
        self._stored_is_active = None if "is_active" in deferred else self.is_active
        self._password_set = False

    def set_password(self, raw_password: str | None) -> None:
        super().set_password(raw_password)
        self._password_set = not self._rehashing

    def set_unusable_password(self) -> None:
        super().set_unusable_password()
        self._password_set = True

    def check_password(self, raw_password: str) -> bool:
        # Django re-hashes a right password with the preferred hasher and saves it: the same
        # password, so nothing is revoked.
        self._rehashing = True
        try:
            return super().check_password(raw_password)
        finally:
            self._rehashing = False

    def validate_unique(self, exclude: Collection[str] | None = None) -> None:
        """Django's checks, and no other account holding another spelling of the username."""
        super().validate_unique(exclude)
        if (exclude is None or "username" not in exclude) and username_taken(
            self.username, exclude_pk=self.pk
        ):
            raise ValidationError({"username": [USERNAME_TAKEN]})

    def save(self, *args: Any, **kwargs: Any) -> None:
        if "username" not in self.get_deferred_fields():  # reading it would cost a query
            self.username = normalize_username(self.username)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            derived = {"username": "username_canonical", "email": "email_canonical"}
            kwargs["update_fields"] = {
                *update_fields,
                *(derived[name] for name in derived if name in update_fields),
            }
        saved = _saved_fields(self, update_fields)
        new_password = (
            self.pk is not None  # a new user has no credentials yet
            and "password" in saved
            and not self._rehashing
            and (
                self._password_set
                or (self._stored_password is not None and self.password != self._stored_password)
            )
        )
        deactivated = "is_active" in saved and self._stored_is_active is True and not self.is_active
        with transaction.atomic():
            super().save(*args, **kwargs)
            if new_password:
                password_hash_changed.send(sender=User, user=self)
            if deactivated:
                user_deactivated.send(sender=User, user=self)
        self._remember_stored_state()


def _saved_fields(user: User, update_fields: Any) -> set[str]:
    """The attribute names save() writes: the update_fields, else every loaded field."""
    if update_fields is not None:
        return set(update_fields)
    deferred = user.get_deferred_fields()
    return {f.attname for f in user._meta.concrete_fields if f.attname not in deferred}


class DeviceCredentialQuerySet(models.QuerySet[Any]):
    def expired(self, now: datetime) -> "DeviceCredentialQuerySet":
        """Past the absolute lifetime, or unused for longer than the idle timeout."""
        return self.filter(
            models.Q(expires_at__lte=now)
            | models.Q(last_used_at__lte=now - settings.AUTH_TOKEN_IDLE_TTL)
        )

    def live(self, now: datetime) -> "DeviceCredentialQuerySet":
        return self.exclude(pk__in=self.expired(now).values("pk"))


class DeviceCredential(models.Model):
    """What a sign-in on one device keeps: a secret's digest, a label, lifetimes, last use."""

    digest = models.CharField(max_length=64, unique=True, editable=False)
    label = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField()
    last_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)

    objects = DeviceCredentialQuerySet.as_manager()

    class Meta:
        abstract = True

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at <= now or self.last_used_at <= now - settings.AUTH_TOKEN_IDLE_TTL

    def needs_touch(self, now: datetime) -> bool:
        """Whether last_used_at is stale enough to be worth a write (at most one per interval)."""
        return now - self.last_used_at >= settings.AUTH_TOKEN_TOUCH_INTERVAL


class DeviceToken(DeviceCredential):
    """One login on one device: the key is shown once; only its SHA-256 digest is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="device_tokens"
    )

    class Meta:
        indexes = [models.Index(fields=["user", "last_used_at"], name="devicetoken_user_lru")]

    def __str__(self) -> str:
        return f"{self.label} ({self.user_id})"


class RefreshFamily(DeviceCredential):
    """One JWT sign-in on one device: `digest` is its current refresh token's, replaced at each
    refresh (`last_used_at`); the access tokens it issues name it and die with it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="refresh_families"
    )

    class Meta:
        verbose_name_plural = "refresh families"
        indexes = [models.Index(fields=["user", "last_used_at"], name="refreshfamily_user_lru")]

    def __str__(self) -> str:
        return f"{self.label} ({self.user_id})"


class SpentRefreshToken(models.Model):
    """A refresh token rotated away: presented again it is a reuse (within the grace, a race).

    Kept as long as its family lives, so that any earlier token of a family gives a theft away.
    """

    family = models.ForeignKey(RefreshFamily, on_delete=models.CASCADE, related_name="spent")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    spent_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"spent token of family {self.family_id}"


class MfaLoginAttempt(models.Model):
    """A password accepted for a user with a second factor: the login waits for the code.

    Only the ephemeral token's SHA-256 digest is stored; the row is deleted when the code is
    accepted (single use), and its expiry is fixed at creation (a wrong code does not extend it).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    digest = models.CharField(max_length=64, unique=True)
    # The `device` label the login asked for: the credential issued after the code carries it.
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"MFA login of {self.user_id}"


class UsedTotpCode(models.Model):
    """A TOTP time step accepted for a user: its code is refused again on every server.

    A database row (unique per user and step) rather than allauth's cache marker, which a
    per-process cache would keep from the other workers.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    counter = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "counter"], name="usedtotpcode_user_counter")
        ]

    def __str__(self) -> str:
        return f"TOTP step {self.counter} of {self.user_id}"


class Reauthentication(models.Model):
    """When a credential last proved its owner again (password or code), for the sensitive steps.

    `credential` names the credential and the moment it was issued, so a new token that reuses a
    deleted one's primary key never inherits its mark.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    credential = models.CharField(max_length=200, unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Reauthentication of {self.user_id}"


class WebAuthnChallenge(models.Model):
    """A WebAuthn ceremony under way: fido2's state (the challenge), server-side, single use.

    Keyed by the SHA-256 digest of what the client presents back (a registration or login token,
    the ephemeral token of a login's second step, the credential in use for a reauthentication),
    so a challenge is bound to it; deleted on first use, right or wrong, and valid 5 minutes.
    """

    class Purpose(models.TextChoices):
        REGISTER = "register"
        SECOND_FACTOR = "second_factor"
        LOGIN = "login"
        REAUTHENTICATE = "reauthenticate"

    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    digest = models.CharField(max_length=64)
    # None for a passwordless login: the passkey presented names the user.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True)
    state = models.JSONField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["purpose", "digest"], name="webauthnchallenge_key")
        ]

    def __str__(self) -> str:
        return f"WebAuthn {self.purpose} of {self.user_id}"


class AccountActivity(models.Model):
    """One security event of an account, or (aggregated kinds) every one of a kind in a window.

    Append-only: rows are inserted by blogapi.accounts.services.activity and deleted only by the
    retention purge or with their user; the one update is an aggregated row's `count`.
    """

    class Actor(models.TextChoices):
        SELF = "self", "the account's owner (or the party signing in)"
        STAFF = "staff", "a staff member"
        SYSTEM = "system", "the system"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="activity"
    )
    event = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    # Aggregated kinds only: the start of the window this row counts (one row per window).
    window_start = models.DateTimeField(null=True, blank=True)
    count = models.PositiveIntegerField(default=1)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    device = models.CharField(max_length=100, blank=True)
    actor = models.CharField(max_length=8, choices=Actor.choices, default=Actor.SELF)
    # The staff member's id; not a foreign key: the record outlives the staff account.
    actor_user_id = models.PositiveBigIntegerField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "account activity"
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="activity_user_newest"),
            models.Index(fields=["created_at"], name="activity_created_at"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "event", "window_start"],
                condition=models.Q(window_start__isnull=False),
                name="activity_one_row_per_window",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} of {self.user_id}"


class AccountActivityRecord(AccountActivity):
    """The admin's read-only view of the feed.

    A proxy because the admin checks the delete permission of every related row registered
    under its concrete model before it deletes a user: registered as itself, a feed the admin
    may never delete would forbid deleting any user who ever signed in.
    """

    class Meta:
        proxy = True
        verbose_name = "account activity"
        verbose_name_plural = "account activity"


class AccountDeletion(models.Model):
    """An account its owner asked to erase: `purge_deleted_accounts` erases it from `erase_at` on.

    Any sign-in before then deletes this row, which cancels the erasure (blogapi.accounts.signals).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="deletion",
    )
    requested_at = models.DateTimeField()
    erase_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"Deletion of {self.user_id} at {self.erase_at:%Y-%m-%d %H:%M}"
