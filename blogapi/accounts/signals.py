"""Signal receivers: auth events, browser sessions listed, and revocation as an invariant.

The last receivers hold where the state changes, whatever path changes it: a new password hash
or a deactivation (User.save()), a user's deletion, and any token row deleted (the cache).
"""

from typing import Any

from django.contrib.auth.models import update_last_login
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver
from django.http import HttpRequest

from blogapi.accounts.credential_cache import device_tokens, refresh_families
from blogapi.accounts.events import auth_event, login_succeeded
from blogapi.accounts.limits import login_user_id
from blogapi.accounts.models import (
    DeviceToken,
    RefreshFamily,
    User,
    password_hash_changed,
    user_deactivated,
)
from blogapi.accounts.services.credentials import (
    BrowserSessions,
    credentials_revoke_all,
    user_session_record,
)
from blogapi.accounts.services.deletion import deletion_cancel_on_sign_in
from blogapi.accounts.services.password import password_hash_changed_revoke

# Every sign-in sends Django's user_logged_in: login() for sessions, sign_in_announce() for the
# others (with `via`). Django's own receiver, update_last_login, saves last_login alone
# (update_fields), which User.save() never takes for a new password or a deactivation.


def deletion_cancel_on_login(
    sender: Any, request: HttpRequest | None, user: User, **kwargs: Any
) -> None:
    """Every sign-in cancels a pending deletion, or is refused if the account was just erased."""
    deletion_cancel_on_sign_in(request=request, user=user)


# First of the sign-in's receivers, before Django's update_last_login (connected by its auth app,
# whose ready() runs before ours): a sign-in racing the erasure of its account must be refused
# before it writes anything, or that write would fail on the missing row with a 500.
_last_login_was_connected = user_logged_in.disconnect(dispatch_uid="update_last_login")
user_logged_in.connect(deletion_cancel_on_login, dispatch_uid="blogapi.deletion_cancel_on_login")
if _last_login_was_connected:
    user_logged_in.connect(update_last_login, dispatch_uid="update_last_login")


@receiver(user_logged_in)
def auth_event_on_login(
    sender: Any, request: HttpRequest | None, user: User, **kwargs: Any
) -> None:
    """Every sign-in (admin, /api-auth/, browsable API, token issued, Basic), once per request."""
    via = kwargs.get("via", BrowserSessions.name)
    login_succeeded(request=request, user=user, via=via, label=kwargs.get("label"))


@receiver(user_logged_in)
def user_session_on_login(
    sender: Any, request: HttpRequest | None, user: User, **kwargs: Any
) -> None:
    """allauth's usersessions only hears allauth's own login signal; ours come from login()."""
    if kwargs.get("via", BrowserSessions.name) != BrowserSessions.name:
        return  # a token or a Basic request: no session was signed in
    if request is not None and hasattr(request, "session"):
        record = user_session_record(request=request, user=user)
        auth_event("credential.created", kind="session", user_id=user.pk, session_id=record.pk)


@receiver(user_login_failed)
def auth_event_on_login_failure(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
    """The account's id when the name is one; never the typed name (Django scrubs the password)."""
    identifier = credentials.get("username") or credentials.get("email")
    user_id = login_user_id(identifier) if isinstance(identifier, str) else None
    auth_event("login.failed", user_id=user_id)


@receiver(password_hash_changed)
def credentials_revoke_on_new_password(sender: Any, user: User, **kwargs: Any) -> None:
    """Every credential but the one the changing flow keeps (none outside the API)."""
    password_hash_changed_revoke(user=user)


@receiver(user_deactivated)
def credentials_revoke_on_deactivation(sender: Any, user: User, **kwargs: Any) -> None:
    """All of them: a reactivation brings none back."""
    credentials_revoke_all(user=user)


@receiver(pre_delete, sender=User)
def credentials_revoke_on_deletion(sender: Any, instance: User, **kwargs: Any) -> None:
    """Before the cascade: browser sessions live in the session store, out of its reach."""
    credentials_revoke_all(user=instance)


@receiver(post_delete, sender=DeviceToken)
def device_token_uncache(sender: Any, instance: DeviceToken, **kwargs: Any) -> None:
    """However a token row goes (revoked, purged, cascaded), its cached entry goes with it."""
    device_tokens.revoked([instance.digest])


@receiver(post_delete, sender=RefreshFamily)
def refresh_family_uncache(sender: Any, instance: RefreshFamily, **kwargs: Any) -> None:
    """So do a JWT family's, and with it every access token it issued."""
    refresh_families.revoked([str(instance.pk)])
