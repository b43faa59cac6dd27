"""The account's security activity feed: which auth events it keeps, how, and for how long.

Every security event is already reported once, through `events.auth_event()`; that call also
writes the feed's row for the event names listed in FEED, so a new event joins the feed by one
entry there, never by a second call at its site. The row is an ordinary ORM insert inside
whatever transaction the caller holds: it commits with the change it records, and a rollback
drops it. The context of the row (client IP, user agent, device label, who acted) is read from
the request being served (`blogapi.core.request_context`, set by middleware), so no call site
passes a request; with none (a management command, a shell, cron) the actor is the system.

What a row holds is allow-listed twice: the event (FEED) and, per event, the fields it keeps
(`FeedKind.fields`: ids, counts, fixed words, a device label), so an event reported with more
(an address, a name) stores no more. A failed sign-in is reported with the account's id alone,
never with what was typed.

Failed sign-ins and password checks, lockouts and wrong codes or passkey assertions (and Basic
sign-ins, one per request) are counted: one row per account, event and AGGREGATION_WINDOW, whose
`count` grows, so a flood of attempts adds one row an hour at most.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.http import HttpRequest
from django.utils import timezone

from blogapi.accounts.devices import device_label, user_agent
from blogapi.accounts.models import AccountActivity, User
from blogapi.core.clients import client_ip
from blogapi.core.request_context import current_request

AGGREGATION_WINDOW = timedelta(hours=1)
# The longest text and list a detail may hold: labels are 100 characters, users keep at most
# AUTH_TOKEN_MAX_PER_USER credentials of a kind.
MAX_TEXT = 100
MAX_ITEMS = 100
# What an event may name explicitly as its actor (`auth_event(..., actor="system")`).
SYSTEM = AccountActivity.Actor.SYSTEM


@dataclass(frozen=True)
class FeedKind:
    """How an event is kept: the fields stored with it, and whether it is counted per window."""

    fields: tuple[str, ...] = ()
    aggregated: bool = False
    # Counted per window only when this says so (one of its forms can come in floods).
    aggregated_if: Callable[[Mapping[str, Any]], bool] | None = None

    def counted(self, fields: Mapping[str, Any]) -> bool:
        return self.aggregated or (self.aggregated_if is not None and self.aggregated_if(fields))


def _basic(fields: Mapping[str, Any]) -> bool:
    """Basic authentication signs in on every request: counted, not one row per request."""
    return fields.get("via") == "basic"


_CREDENTIAL_IDS = ("token_id", "family_id", "session_id")

# Every event the feed keeps; any other auth event is only logged.
FEED: dict[str, FeedKind] = {
    # Sign-ins: `via` is the method (token, session, basic, jwt); the row names the device.
    "login.succeeded": FeedKind(fields=("via",), aggregated_if=_basic),
    "login.failed": FeedKind(aggregated=True),
    # A wrong password from a signed-in caller (reauthentication, password, e-mail or deletion):
    # counted apart from sign-ins, as it means a credential of the account is in other hands or
    # its owner forgot; where it happened is in the log line only (a counted row has one set
    # of details for the whole hour).
    "password.check_failed": FeedKind(aggregated=True),
    "login.locked": FeedKind(aggregated=True),
    # A right password for an account with a second factor, waiting for the code.
    "login.mfa_required": FeedKind(aggregated=True),
    # A wrong code or passkey assertion (second step, reauthentication, deletion, TOTP off).
    "mfa.code_failed": FeedKind(aggregated=True),
    # Credentials: which one (kind and id), and for a revocation how many and which.
    "credential.created": FeedKind(fields=("kind", *_CREDENTIAL_IDS)),
    "credential.reuse_detected": FeedKind(fields=("kind", "family_id")),
    "credential.revoked": FeedKind(fields=("kind", "count", "ids")),
    "password.changed": FeedKind(),
    "password.reset": FeedKind(),
    # Two-factor changes.
    "mfa.totp_activated": FeedKind(),
    "mfa.totp_deactivated": FeedKind(),
    "mfa.removed_by_staff": FeedKind(),
    "mfa.recovery_codes_generated": FeedKind(),
    "mfa.recovery_code_used": FeedKind(fields=("left",)),
    "mfa.webauthn_added": FeedKind(),
    "mfa.webauthn_removed": FeedKind(),
    # The account itself (e-mail change, export, deletion).
    "email.change_started": FeedKind(),
    "email.change_confirmed": FeedKind(),
    "account.exported": FeedKind(),
    # When the account will be erased unless a sign-in cancels it first.
    "account.deletion_requested": FeedKind(fields=("erase_at",)),
    "account.deletion_cancelled": FeedKind(),
}
FEED_EVENTS = sorted(FEED)


def _details(kind: FeedKind, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The kind's allowed fields, each a number, a short text or a short list of them."""
    details: dict[str, Any] = {}
    for name in kind.fields:
        value = fields.get(name)
        if isinstance(value, bool | int):
            details[name] = value
        elif isinstance(value, str):
            details[name] = value[:MAX_TEXT]
        elif isinstance(value, list | tuple) and all(isinstance(v, int | str) for v in value):
            details[name] = [v[:MAX_TEXT] if isinstance(v, str) else v for v in value][:MAX_ITEMS]
    return details


def _actor(
    request: HttpRequest | None, user_id: int, fields: Mapping[str, Any]
) -> tuple[str, int | None]:
    """Who acted on the account: staff (named by the event, or the signed-in caller), the
    system (named by the event, or no request at all), else the account's side itself."""
    staff_id = fields.get("staff_id")
    if isinstance(staff_id, int):
        return AccountActivity.Actor.STAFF, staff_id
    if fields.get("actor") == SYSTEM or request is None:
        return SYSTEM, None
    caller = getattr(request, "user", None)
    if (
        caller is not None
        and caller.is_authenticated
        and caller.pk != user_id
        and getattr(caller, "is_staff", False)
    ):
        return AccountActivity.Actor.STAFF, caller.pk
    return AccountActivity.Actor.SELF, None


def _context(request: HttpRequest | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Where the event came from: the request's client IP, user agent and device label."""
    if request is None:
        return {}
    agent = user_agent(request)
    label = fields.get("label")
    # Printable only, as for user agents: PostgreSQL refuses NUL, controls garble admin pages.
    device = "".join(c for c in label if c.isprintable()).strip() if isinstance(label, str) else ""
    device = device[:MAX_TEXT]
    return {"ip": client_ip(request), "user_agent": agent, "device": device or device_label(agent)}


def _window_start(now: datetime) -> datetime:
    seconds = int(AGGREGATION_WINDOW.total_seconds())
    return datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, tz=UTC)


def _count(*, user_id: int, event: str, row: dict[str, Any]) -> None:
    """One more in this window's row, created by the first; race-safe on both databases.

    An UPDATE first (the common case under a flood: one statement); the first of a window
    inserts, in a savepoint so that losing the insert race to another request (the unique
    constraint) leaves the caller's transaction usable, and then counts in the winner's row.
    """
    now = timezone.now()
    start = _window_start(now)
    window = AccountActivity.objects.filter(user_id=user_id, event=event, window_start=start)
    if window.update(count=models.F("count") + 1):
        return
    try:
        with transaction.atomic():
            AccountActivity.objects.create(
                user_id=user_id, event=event, window_start=start, created_at=now, **row
            )
    except IntegrityError:
        window.update(count=models.F("count") + 1)


def activity_record(event: str, fields: Mapping[str, Any]) -> None:
    """Keep `event` in its account's feed if FEED lists it and it names an account."""
    kind = FEED.get(event)
    user_id = fields.get("user_id")
    if kind is None or not isinstance(user_id, int) or isinstance(user_id, bool):
        return
    request = current_request.get()
    actor, actor_user_id = _actor(request, user_id, fields)
    row = {
        **_context(request, fields),
        "actor": actor,
        "actor_user_id": actor_user_id,
        "details": _details(kind, fields),
    }
    if kind.counted(fields):
        _count(user_id=user_id, event=event, row=row)
    else:
        AccountActivity.objects.create(user_id=user_id, event=event, **row)


def activity_window_end(row: AccountActivity) -> datetime | None:
    """When an aggregated row stops counting; None for a single event."""
    return row.window_start + AGGREGATION_WINDOW if row.window_start is not None else None


def activity_list_for_user(*, user: User) -> models.QuerySet[AccountActivity]:
    """The user's own feed (the view's pagination orders it, newest first)."""
    return AccountActivity.objects.filter(user=user)


def activity_purge_expired() -> int:
    """Delete rows older than AUTH_ACTIVITY_RETENTION; how many. Idempotent."""
    cutoff = timezone.now() - settings.AUTH_ACTIVITY_RETENTION
    deleted, _ = AccountActivity.objects.filter(created_at__lt=cutoff).delete()
    return deleted
