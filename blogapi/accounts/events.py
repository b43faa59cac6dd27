"""Auth events as one structured line each on `blogapi.auth`: ids, kinds and counts, no secrets.

The same call keeps the events the security activity feed lists in the account's feed
(blogapi.accounts.services.activity), in the caller's transaction.
"""

import logging
from typing import Any

from django.http import HttpRequest

from blogapi.accounts.models import User
from blogapi.accounts.services.activity import activity_record

logger = logging.getLogger("blogapi.auth")

# Marks a request whose login is logged: a browsable-API login issues a token and a session,
# and dj-rest-auth hands the same DRF Request to the token creator and to Django's login().
_LOGIN_LOGGED = "_blogapi_login_logged"
# Fields for the feed's row only: a device label is text the user typed, kept out of log lines.
_FEED_ONLY_FIELDS = ("label",)


def auth_event(event: str, **fields: Any) -> None:
    """Log `event` (e.g. `login.failed`) with `fields`: never a password, key, token or address.

    Events listed in the activity feed are also kept there, in the caller's transaction.
    """
    logged = {name: value for name, value in fields.items() if name not in _FEED_ONLY_FIELDS}
    details = " ".join(f"{name}={value}" for name, value in logged.items())
    logger.info("%s %s", event, details, extra={"event": event, **logged})
    activity_record(event, fields)


def login_succeeded(
    *, request: HttpRequest | None, user: User, via: str, label: str | None = None
) -> None:
    """`login.succeeded` once per request, whichever credentials (`token`, `session`) it opened.

    `label` is the device label the sign-in asked for (else the feed derives one).
    """
    if request is not None:
        if getattr(request, _LOGIN_LOGGED, False):
            return
        setattr(request, _LOGIN_LOGGED, True)
    fields: dict[str, Any] = {"user_id": user.pk, "via": via}
    if label:
        fields["label"] = label
    auth_event("login.succeeded", **fields)


def credentials_revoked(
    *, kind: str, count: int, user_id: int | None, ids: list[int] | None = None, **extra: Any
) -> None:
    """`credential.revoked` with the kind (`token`, `session`, …), how many and which, if any.

    `extra` may name the actor (`actor="system"`) when the owner did not ask for it.
    """
    if count:
        auth_event(
            "credential.revoked", kind=kind, count=count, user_id=user_id, ids=ids or [], **extra
        )
