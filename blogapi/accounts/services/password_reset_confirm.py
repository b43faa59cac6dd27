"""Set a new password from a mailed reset link."""

from allauth.account.adapter import get_adapter
from allauth.account.forms import default_token_generator
from allauth.account.utils import url_str_to_user_pk
from django.contrib.auth.forms import SetPasswordForm
from django.db import transaction
from django.http import HttpRequest
from rest_framework.exceptions import ValidationError

from blogapi.accounts.events import auth_event
from blogapi.accounts.limits import login_failures_clear
from blogapi.accounts.models import User
from blogapi.accounts.services.credentials import credentials_revoke_all

_INVALID = ["Invalid value"]


@transaction.atomic
def password_reset_confirm(
    *, request: HttpRequest, uid: str, token: str, new_password1: str, new_password2: str
) -> User:
    """Check the link and set the password exactly once, even when confirms race.

    The row lock (BEGIN IMMEDIATE on SQLite) serialises confirms of one link; the loser then
    sees the new password hash, which Django's reset tokens include, so its token is dead.
    """
    try:
        pk = url_str_to_user_pk(uid)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError({"uid": _INVALID}) from None
    user = User.objects.select_for_update().filter(pk=pk, is_active=True).first()
    if user is None:
        raise ValidationError({"uid": _INVALID})
    if not default_token_generator.check_token(user, token):
        raise ValidationError({"token": _INVALID})
    form = SetPasswordForm(
        user=user, data={"new_password1": new_password1, "new_password2": new_password2}
    )
    if not form.is_valid():
        raise ValidationError(
            {field: [str(m) for m in messages] for field, messages in form.errors.items()}
        )
    form.save()
    auth_event("password.reset", user_id=user.pk)
    credentials_revoke_all(user=user)
    login_failures_clear(user=user)
    get_adapter(request).send_notification_mail("account/email/password_reset", user)
    return user
