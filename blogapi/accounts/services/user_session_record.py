"""List a browser session in the user's credentials (allauth usersessions' table)."""

from allauth.usersessions.models import UserSession
from django.http import HttpRequest
from django.utils import timezone

from blogapi.accounts.devices import user_agent
from blogapi.accounts.models import User
from blogapi.core.clients import UNKNOWN_IP, client_ip

# Every session must be listed, or logout-all could not end it; allauth's create_from_request
# refuses requests without a client IP, so we record the row ourselves.


# allauth's column holds 200 characters (ours 256): PostgreSQL refuses longer.
USER_AGENT_COLUMN = 200


def user_session_record(*, request: HttpRequest, user: User) -> None:
    """Create or refresh the row of the request's session after a login or password change."""
    if not request.session.session_key:
        request.session.save()
    UserSession.objects.update_or_create(
        session_key=request.session.session_key,
        defaults={
            "user": user,
            "ip": client_ip(request) or UNKNOWN_IP,
            "user_agent": user_agent(request)[:USER_AGENT_COLUMN],
            "last_seen_at": timezone.now(),
        },
    )
