"""Credentials: the registry of kinds a user signs in with, and the flows that issue or end them.

A kind (device tokens, browser sessions, JWT refresh families) is one `CredentialKind` subclass
listed in `CREDENTIAL_KINDS`; listing, revoking one by its public id (`<kind>-<n>`), revoking all
but one and the `credential.revoked` events then cover it with no other change.
"""

import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.signals import user_logged_in
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from blogapi.accounts.browser_sessions import LiveSession, live_sessions, sessions_end
from blogapi.accounts.devices import device_label, user_agent
from blogapi.accounts.events import auth_event, credentials_revoked
from blogapi.accounts.models import TOKEN_PREFIX, DeviceToken, RefreshFamily, User, token_digest
from blogapi.core.clients import UNKNOWN_IP, client_ip

# allauth's column holds 200 characters (ours 256): PostgreSQL refuses longer.
USER_AGENT_COLUMN = 200


@dataclass(frozen=True)
class CredentialRef:
    """One credential by its kind and that kind's key for it (a token's pk, a session key)."""

    kind: str
    key: str


@dataclass(frozen=True)
class Credential:
    """One live credential as the credentials list shows it (never a secret)."""

    id: str
    kind: str
    label: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime | None
    last_ip: str | None
    user_agent: str
    current: bool


class CredentialKind(ABC):
    """A kind of credential: rows with a `user`; `<name>-<pk>` is a row's public id."""

    name: ClassVar[str]
    # The field a CredentialRef's key names.
    key_field: ClassVar[str]

    @abstractmethod
    def rows(self) -> models.QuerySet[Any]:
        """Every credential of this kind, live or not."""

    @abstractmethod
    def in_use(self, request: HttpRequest) -> CredentialRef | None:
        """The credential of this kind the request signs in with, if any."""

    @abstractmethod
    def live(self, user: User, current: CredentialRef | None) -> list[Credential]:
        """The user's credentials of this kind that still sign in, `current` marked."""

    @abstractmethod
    def end(self, rows: models.QuerySet[Any]) -> int:
        """Make these credentials refused from the next request on; how many there were."""

    def ref(self, key: str) -> CredentialRef:
        return CredentialRef(kind=self.name, key=key)


class DeviceCredentials(CredentialKind):
    """A kind stored as DeviceCredential rows (a secret's digest, lifetimes, last use).

    One row per sign-in on one device; `request.auth` is the row a request signs in with;
    every deletion goes through end().
    """

    model: ClassVar[type[DeviceToken] | type[RefreshFamily]]
    key_field = "pk"

    def rows(self) -> models.QuerySet[Any]:
        return self.model.objects.all()

    def in_use(self, request: HttpRequest) -> CredentialRef | None:
        row: Any = getattr(request, "auth", None)  # set by DRF's authentication
        return self.ref(str(row.pk)) if isinstance(row, self.model) else None

    def live(self, user: User, current: CredentialRef | None) -> list[Credential]:
        now = timezone.now()
        return [
            Credential(
                id=f"{self.name}-{row.pk}",
                kind=self.name,
                label=row.label,
                created_at=row.created_at,
                last_used_at=row.last_used_at,
                expires_at=min(row.expires_at, row.last_used_at + settings.AUTH_TOKEN_IDLE_TTL),
                last_ip=row.last_ip,
                user_agent=row.user_agent,
                current=self.ref(str(row.pk)) == current,
            )
            for row in self.model.objects.filter(user=user).live(now)
        ]

    def end(self, rows: models.QuerySet[Any]) -> int:
        _, by_model = rows.delete()
        return by_model.get(self.model._meta.label, 0)

    def create(self, *, user: User, request: HttpRequest, digest: str, label: str | None) -> Any:
        """A new row for this device's sign-in; beyond the cap the user's least recently used go."""
        now, agent = timezone.now(), user_agent(request)
        row = self.model.objects.create(
            user=user,
            digest=digest,
            label=(label or "").strip() or device_label(agent),
            created_at=now,
            expires_at=now + settings.AUTH_TOKEN_TTL,
            last_used_at=now,
            last_ip=client_ip(request),
            user_agent=agent,
        )
        surplus = self.model.objects.filter(user=user).order_by("-last_used_at", "-pk")[
            settings.AUTH_TOKEN_MAX_PER_USER :
        ]
        self.end(self.model.objects.filter(pk__in=list(surplus.values_list("pk", flat=True))))
        return row

    def purge_expired(self) -> int:
        """Delete rows past their absolute or idle expiry (already refused); how many."""
        return self.end(self.model.objects.expired(timezone.now()))


class DeviceTokens(DeviceCredentials):
    """Per-device API tokens (`Authorization: Token <key>`)."""

    name = "token"
    model = DeviceToken


class BrowserSessions(CredentialKind):
    """Browser sessions (the session cookie), listed in allauth's usersessions table."""

    name = "session"
    key_field = "session_key"

    def rows(self) -> models.QuerySet[Any]:
        return UserSession.objects.all()

    def in_use(self, request: HttpRequest) -> CredentialRef | None:
        session = getattr(request, "session", None)
        if session is None or not session.get(SESSION_KEY):
            return None
        return self.ref(session.session_key)

    def live(self, user: User, current: CredentialRef | None) -> list[Credential]:
        """Idle sessions are not live: they are ended here, as at their next request."""
        now, idle_ttl = timezone.now(), settings.AUTH_SESSION_IDLE_TTL
        sessions: list[LiveSession] = []
        idle: list[LiveSession] = []
        for s in live_sessions(user):
            (idle if now - s.record.last_seen_at >= idle_ttl else sessions).append(s)
        if idle:
            _revoke(
                self,
                UserSession.objects.filter(pk__in=[s.record.pk for s in idle]),
                user_id=user.pk,
                actor="system",  # ended for idleness, not by anyone
            )
        return [
            Credential(
                id=f"{self.name}-{s.record.pk}",
                kind=self.name,
                label=f"Browser session ({device_label(s.record.user_agent)})",
                created_at=s.record.created_at,
                last_used_at=s.record.last_seen_at,
                # As for tokens: the earlier of the absolute and the idle expiry.
                expires_at=min(s.expires_at, s.record.last_seen_at + idle_ttl),
                last_ip=s.record.ip,
                user_agent=s.record.user_agent,
                current=self.ref(s.record.session_key) == current,
            )
            for s in sessions
        ]

    def end(self, rows: models.QuerySet[Any]) -> int:
        return sessions_end(rows)


class JwtFamilies(DeviceCredentials):
    """JWT sign-ins (`Authorization: Bearer` or the cookies): one refresh family per login."""

    name = "jwt"
    model = RefreshFamily


DEVICE_TOKENS, JWT_FAMILIES = DeviceTokens(), JwtFamilies()
CREDENTIAL_KINDS: dict[str, CredentialKind] = {
    kind.name: kind for kind in (DEVICE_TOKENS, BrowserSessions(), JWT_FAMILIES)
}


def _revoke(
    kind: CredentialKind, rows: models.QuerySet[Any], *, user_id: int | None, **extra: Any
) -> int:
    """End `rows` of `kind` and log `credential.revoked` (which ones) if there were any.

    No transaction of its own (a savepoint costs two round trips): a token ends in one DELETE,
    and a session record left without its session is purged when the sessions are listed.
    The ids are read first so that the event names exactly the rows ended; `extra` may name
    the actor (`actor="system"`).
    """
    ids = list(rows.values_list("pk", flat=True))
    if not ids:
        return 0
    count = kind.end(rows.filter(pk__in=ids))
    credentials_revoked(kind=kind.name, count=count, user_id=user_id, ids=ids, **extra)
    return count


def credential_in_use(request: HttpRequest) -> CredentialRef | None:
    """The credential this request signs in with: the token in `request.auth`, else the session."""
    refs = (kind.in_use(request) for kind in CREDENTIAL_KINDS.values())
    return next((ref for ref in refs if ref is not None), None)


def credential_list_for_user(*, user: User, current: CredentialRef | None) -> list[Credential]:
    """The user's live credentials of every kind, most recently used first."""
    credentials = [c for kind in CREDENTIAL_KINDS.values() for c in kind.live(user, current)]
    return sorted(credentials, key=lambda c: c.last_used_at, reverse=True)


def credential_revoke(*, user: User, credential_id: str) -> bool:
    """Revoke one of the user's credentials by its public id; False if the user has none such."""
    kind_name, _, number = credential_id.partition("-")
    kind = CREDENTIAL_KINDS.get(kind_name)
    # isascii(): str.isdigit() also accepts superscripts and other scripts' digits.
    if kind is None or not (number.isascii() and number.isdigit()) or len(number) > 18:
        return False
    rows = kind.rows().filter(user=user, pk=int(number))
    return _revoke(kind, rows, user_id=user.pk) > 0


@transaction.atomic
def credentials_revoke_all(*, user: User, keep: CredentialRef | None = None) -> None:
    """End every credential of the user of every kind, except `keep` if named."""
    for kind in CREDENTIAL_KINDS.values():
        rows = kind.rows().filter(user=user)
        if keep is not None and keep.kind == kind.name:
            rows = rows.exclude(**{kind.key_field: keep.key})
        _revoke(kind, rows, user_id=user.pk)


def browser_session_end_idle(*, request: HttpRequest) -> None:
    """The request's session sat unused for AUTH_SESSION_IDLE_TTL: end it, sign the request out."""
    sessions = CREDENTIAL_KINDS[BrowserSessions.name]
    ref = sessions.in_use(request)
    if ref is not None:
        rows = sessions.rows().filter(**{sessions.key_field: ref.key})
        _revoke(sessions, rows, user_id=request.user.pk, actor="system")
    logout(request)


def credentials_in_use_revoke(*, request: HttpRequest) -> None:
    """Logout: end the token and the session this request was made with, nothing else."""
    for kind in CREDENTIAL_KINDS.values():
        ref = kind.in_use(request)
        if ref is not None:
            _revoke(kind, kind.rows().filter(**{kind.key_field: ref.key}), user_id=request.user.pk)
    logout(request)


def sign_in_announce(
    *, request: HttpRequest, user: User, via: str, label: str | None = None
) -> None:
    """Announce a sign-in that Django's login() did not: a token issued, a Basic request.

    Django's user_logged_in, as login() sends it for sessions, so that every sign-in has the same
    effects: Django's update_last_login (which kills the reset links mailed before it: Django's
    reset tokens embed last_login) and our receivers (the `login.succeeded` event). `via` names
    the credential (`token`, `basic`); login() sends none, which means a session. `label` is
    the device label the sign-in asked for, if any.
    """
    user_logged_in.send(sender=type(user), request=request, user=user, via=via, label=label)


@dataclass(frozen=True)
class IssuedToken:
    """A new token row and its key; the key exists only here and in the one response."""

    token: DeviceToken
    key: str


@transaction.atomic
def device_token_create(
    *, user: User, request: HttpRequest, label: str | None = None
) -> IssuedToken:
    """Sign in with a new token for this device; beyond the cap the least recently used go."""
    sign_in_announce(request=request, user=user, via=DeviceTokens.name, label=label)
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = DEVICE_TOKENS.create(user=user, request=request, digest=token_digest(key), label=label)
    auth_event(
        "credential.created", kind="token", user_id=user.pk, token_id=token.pk, label=token.label
    )
    return IssuedToken(token=token, key=key)


def device_token_create_for_login(token_model: Any, user: User, serializer: Any) -> IssuedToken:
    """dj-rest-auth's TOKEN_CREATOR hook: label from the login's `device` field or User-Agent."""
    request = serializer.context["request"]
    label = getattr(serializer, "validated_data", {}).get("device")
    return device_token_create(user=user, request=request, label=label)


def device_token_purge_expired() -> int:
    """Delete tokens past their absolute or idle expiry (already refused); how many there were."""
    return DEVICE_TOKENS.purge_expired()


def user_session_record(*, request: HttpRequest, user: User) -> UserSession:
    """List the request's browser session after a login or password change (create or refresh).

    Every session must be listed, or logout-all could not end it; allauth's create_from_request
    refuses requests without a client IP, so the row is written here.
    """
    if not request.session.session_key:
        request.session.save()
    record, _ = UserSession.objects.update_or_create(
        session_key=request.session.session_key,
        defaults={
            "user": user,
            "ip": client_ip(request) or UNKNOWN_IP,
            "user_agent": user_agent(request)[:USER_AGENT_COLUMN],
            "last_seen_at": timezone.now(),
        },
    )
    return record
