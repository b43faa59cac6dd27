"""Mail a password-reset link to each active account of an address."""

from collections.abc import Iterable

from allauth.account.adapter import get_adapter
from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str, user_username
from django.http import HttpRequest

from blogapi.accounts.links import password_reset_url
from blogapi.accounts.models import User


def password_reset_email_send(*, request: HttpRequest, users: Iterable[User]) -> None:
    """Send one reset mail per user, to the address on file (never to the typed spelling).

    The link works once, for an hour, and dies with any login or new password.
    """
    adapter = get_adapter(request)
    for user in users:
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
