"""Password flows: change (the old password checked under the login limits), reset mail, reset.

Revocation is not done here: whatever path saves a new password hash, User.save() announces it
and password_hash_changed_revoke() runs (blogapi.accounts.signals). These flows only say, for
their own save, which credential survives and which notice the owner gets.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from allauth.account.adapter import get_adapter
from allauth.account.forms import default_token_generator
from allauth.account.utils import url_str_to_user_pk, user_pk_to_url_str, user_username
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from blogapi.accounts.events import auth_event
from blogapi.accounts.limits import (
    login_attempt_start,
    login_attempt_succeeded,
    login_failures_clear,
)
from blogapi.accounts.links import password_reset_url
from blogapi.accounts.models import User, canonical_email
from blogapi.accounts.services.credentials import (
    BrowserSessions,
    CredentialRef,
    credential_in_use,
    credentials_revoke_all,
    user_session_record,
)
from blogapi.core import ratelimit

RESET_PER_ADDRESS = "password_reset_address"
# One answer for every link that cannot set a password: an unknown, malformed or inactive
# user's uid, a wrong, expired or used token. Telling them apart would tell which uids are
# accounts (dj-rest-auth answers a `uid` error for some and a `token` error for others).
BAD_LINK_FIELD = "token"
BAD_LINK = "This reset link is invalid, has expired or was already used: ask for a new one."


@dataclass(frozen=True)
class PasswordChange:
    """How a new password is announced: the credential kept, the auth event, the mailed notice."""

    keep: CredentialRef | None = None
    event: str = "password.changed"
    notice: str = "account/email/password_changed"


# Outside our flows (the admin, `changepassword`, a script): nothing kept, the change notice.
_current_change: ContextVar[PasswordChange | None] = ContextVar("password_change", default=None)


@contextmanager
def _announced_as(change: PasswordChange) -> Iterator[None]:
    token = _current_change.set(change)
    try:
        yield
    finally:
        _current_change.reset(token)


def password_hash_changed_revoke(*, user: User) -> None:
    """A new password hash was saved, by any path: revoke every credential but the one kept.

    Logged and mailed as the flow that saved it says (a change by default).
    """
    change = _current_change.get() or PasswordChange()
    auth_event(change.event, user_id=user.pk)
    credentials_revoke_all(user=user, keep=change.keep)
    get_adapter().send_notification_mail(change.notice, user)


def _new_password_form(user: User, new_password1: str, new_password2: str) -> SetPasswordForm:
    """Django's SetPasswordForm, valid (both entries equal, every password validator passed)."""
    form = SetPasswordForm(
        user=user, data={"new_password1": new_password1, "new_password2": new_password2}
    )
    if not form.is_valid():
        raise ValidationError({field: list(messages) for field, messages in form.errors.items()})
    return form


def password_check(*, request: HttpRequest, user: User, password: str, where: str) -> bool:
    """Whether `password` is the user's, checked under the login limits as a login is.

    For a signed-in user proving it again (`where`: reauthentication, password change on the
    API or the admin, e-mail change, deletion): a stolen session cannot guess it. Charged before
    the hash (429 past a limit), taken back when right; a wrong one is `password.check_failed`
    (counted in the feed). To be called outside any transaction, so that a wrong guess stays
    charged, and in the feed, when the change is refused.
    """
    account = login_attempt_start(request=request, identifier=user.get_username())
    if not user.check_password(password):
        auth_event("password.check_failed", user_id=user.pk, where=where)
        return False
    login_attempt_succeeded(account, request=request)
    return True


def password_change(
    *, request: HttpRequest, user: User, old_password: str, new_password1: str, new_password2: str
) -> None:
    """Set a new password; every credential but the one in use is revoked, the owner is mailed.

    The old password is checked under the login limits (password_check).
    """
    if not password_check(
        request=request, user=user, password=old_password, where="password_change"
    ):
        raise ValidationError(
            {"old_password": ["Your old password was entered incorrectly. Please enter it again."]}
        )
    form = _new_password_form(user, new_password1, new_password2)
    with transaction.atomic():
        form.save(commit=False)
        keep = credential_in_use(request)
        if keep is None or keep.kind == BrowserSessions.name:
            # The session that made the change stays signed in, under a new key.
            update_session_auth_hash(request, user)
            keep = credential_in_use(request)
        with _announced_as(PasswordChange(keep=keep)):
            user.save()
        if keep is not None and keep.kind == BrowserSessions.name:
            user_session_record(request=request, user=user)


def password_reset_email_send(*, request: HttpRequest, email: str) -> None:
    """Mail a reset link to each active account of the address, to the address on file.

    Charged per address first, known or not: no inbox flooding, and the limit reveals nothing.
    By canonical address: a look-alike spelling (a dotless i for an i) finds the account of the
    plain one and mails its own address, never the typed one. The link works once, for an hour,
    and dies with any login or new password.
    """
    canonical = canonical_email(email)
    ratelimit.consume(RESET_PER_ADDRESS, canonical)
    adapter = get_adapter(request)
    for user in User.objects.filter(email_canonical=canonical, is_active=True):
        token = default_token_generator.make_token(user)
        context = {
            "user": user,
            "username": user_username(user),
            "uid": user_pk_to_url_str(user),
            "token": token,
            "password_reset_url": password_reset_url(user=user, token=token),
            "request": request,
        }
        adapter.send_mail("account/email/password_reset_key", user.email, context)


def _bad_link() -> ValidationError:
    return ValidationError({BAD_LINK_FIELD: [BAD_LINK]})


@transaction.atomic
def password_reset_confirm(
    *, request: HttpRequest, uid: str, token: str, new_password1: str, new_password2: str
) -> User:
    """Check the link and set the password exactly once, even when confirms race.

    Every link that cannot be used gets the same answer (BAD_LINK), whoever's uid it holds.

    The row lock (BEGIN IMMEDIATE on SQLite) serialises confirms of one link; the loser then
    sees the new password hash, which Django's reset tokens include, so its token is dead.
    """
    try:
        pk = url_str_to_user_pk(uid)
    except (TypeError, ValueError, OverflowError):
        raise _bad_link() from None
    user = User.objects.select_for_update().filter(pk=pk, is_active=True).first()
    if user is None or not default_token_generator.check_token(user, token):
        raise _bad_link()
    form = _new_password_form(user, new_password1, new_password2)
    with _announced_as(
        PasswordChange(event="password.reset", notice="account/email/password_reset")
    ):
        form.save()
    login_failures_clear(user=user)
    return user
