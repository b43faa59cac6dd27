"""Auth events as one structured line each on `blogapi.auth`: ids, kinds and counts, no secrets."""

import logging
from typing import Any

from django.http import HttpRequest

from blogapi.accounts.models import User

logger = logging.getLogger("blogapi.auth")

# Marks a request whose login is logged: a browsable-API login issues a token and a session,
# and dj-rest-auth hands the same DRF Request to the token creator and to Django's login().
_LOGIN_LOGGED = "_blogapi_login_logged"


def auth_event(event: str, **fields: Any) -> None:
    """Log `event` (e.g. `login.failed`) with `fields`: never a password, key, token or address."""
    details = " ".join(f"{name}={value}" for name, value in fields.items())
    logger.info("%s %s", event, details, extra={"event": event, **fields})


def login_succeeded(*, request: HttpRequest | None, user: User, via: str) -> None:
    """`login.succeeded` once per request, whichever credentials (`token`, `session`) it opened."""
    if request is not None:
        if getattr(request, _LOGIN_LOGGED, False):
            return
        setattr(request, _LOGIN_LOGGED, True)
    auth_event("login.succeeded", user_id=user.pk, via=via)


def credentials_revoked(*, kind: str, count: int, user_id: int | None) -> None:
    """`credential.revoked` with the kind (`token`, `session`, …) and how many, if any."""
    if count:
        auth_event("credential.revoked", kind=kind, count=count, user_id=user_id)
