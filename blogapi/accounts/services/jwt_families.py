"""JWT sign-in: a refresh family per login, rotated at every refresh, revoked whole on reuse.

A family is one row (`RefreshFamily`) holding the digest of its current refresh token; every
refresh replaces that digest in a single conditional UPDATE, so of any number of simultaneous
refreshes with one token exactly one wins, on any number of servers (the database decides).
The token it replaced is kept as spent: presented again after `AUTH_JWT_REUSE_GRACE` it means
two parties hold the family's tokens, and the whole family ends (its access tokens with it).
"""

import secrets
from dataclasses import dataclass
from datetime import datetime

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from blogapi.accounts.access_tokens import access_token_issue
from blogapi.accounts.devices import user_agent
from blogapi.accounts.events import auth_event, credentials_revoked
from blogapi.accounts.models import RefreshFamily, SpentRefreshToken, User, token_digest
from blogapi.accounts.services.credentials import JWT_FAMILIES, sign_in_announce
from blogapi.core.clients import client_ip

REFRESH_PREFIX = "blogapi_rt_"  # a public marker for secret scanners


class RefreshRefused(Exception):
    """The refresh token signs nothing in: unknown, spent, expired, or its family was revoked."""


@dataclass(frozen=True)
class IssuedJwt:
    """A login's or a refresh's answer; the refresh token exists only here and in the response."""

    family: RefreshFamily
    access: str
    access_expiration: datetime
    refresh: str
    refresh_expiration: datetime


def _refresh_expiration(family: RefreshFamily) -> datetime:
    return min(family.expires_at, family.last_used_at + settings.AUTH_TOKEN_IDLE_TTL)


def _issue(family: RefreshFamily, refresh: str, now: datetime) -> IssuedJwt:
    access, access_expiration = access_token_issue(
        user_id=family.user_id, family_id=family.pk, now=now
    )
    return IssuedJwt(family, access, access_expiration, refresh, _refresh_expiration(family))


def _new_refresh_token() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


@transaction.atomic
def jwt_family_start(*, user: User, request: HttpRequest, label: str | None = None) -> IssuedJwt:
    """Sign in with a new family; beyond the cap the user's least recently used go."""
    sign_in_announce(request=request, user=user, via="jwt", label=label)
    refresh = _new_refresh_token()
    family = JWT_FAMILIES.create(
        user=user, request=request, digest=token_digest(refresh), label=label
    )
    auth_event(
        "credential.created", kind="jwt", user_id=user.pk, family_id=family.pk, label=family.label
    )
    return _issue(family, refresh, family.created_at)


def jwt_refresh(*, refresh: str, request: HttpRequest) -> IssuedJwt:
    """Spend `refresh` for a new access token and its family's next refresh token.

    Raises RefreshRefused for anything else; a reuse past the grace ends the family first.
    """
    digest, now = token_digest(refresh), timezone.now()
    with transaction.atomic():
        family = RefreshFamily.objects.select_related("user").filter(digest=digest).first()
        if family is not None:
            issued = _rotate(family, digest, request, now)
            if issued is not None:
                return issued
    # Not current (any more): spent by a simultaneous refresh, rotated long ago, or unknown.
    spent = SpentRefreshToken.objects.filter(digest=digest).select_related("family").first()
    if spent is not None and now - spent.spent_at > settings.AUTH_JWT_REUSE_GRACE:
        _reuse_detected(spent.family, request)
    raise RefreshRefused("Token is invalid or expired.")


def _rotate(
    family: RefreshFamily, digest: str, request: HttpRequest, now: datetime
) -> IssuedJwt | None:
    """The family's next tokens, or None if another refresh spent `digest` first."""
    if family.is_expired(now) or not family.user.is_active:
        raise RefreshRefused("Token is invalid or expired.")
    refresh = _new_refresh_token()
    won = RefreshFamily.objects.filter(pk=family.pk, digest=digest).update(
        digest=token_digest(refresh),
        last_used_at=now,
        last_ip=client_ip(request),
        user_agent=user_agent(request) or family.user_agent,
    )
    if not won:
        return None
    SpentRefreshToken.objects.create(family=family, digest=digest, spent_at=now)
    family.last_used_at = now
    auth_event("credential.refreshed", kind="jwt", user_id=family.user_id, family_id=family.pk)
    return _issue(family, refresh, now)


@transaction.atomic
def _reuse_detected(family: RefreshFamily, request: HttpRequest) -> None:
    """A refresh token used twice: someone else has the family's tokens. End it, tell the owner."""
    deleted, _ = RefreshFamily.objects.filter(pk=family.pk).delete()
    if not deleted:  # revoked meanwhile: reported once
        return
    user = User.objects.get(pk=family.user_id)
    auth_event(
        "credential.reuse_detected",
        kind="jwt",
        user_id=user.pk,
        family_id=family.pk,
        actor="system",  # detected and ended by the server, not asked for by anyone
    )
    credentials_revoked(kind="jwt", count=1, user_id=user.pk, ids=[family.pk], actor="system")
    # The mail backend hands the notice over only once this transaction commits.
    get_adapter(request).send_notification_mail("account/email/refresh_token_reused", user)


def jwt_family_purge_expired() -> int:
    """Delete families past their absolute or idle expiry (already refused); how many there were."""
    return JWT_FAMILIES.purge_expired()
