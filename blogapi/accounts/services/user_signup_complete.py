"""Finish an API registration without opening a browser session."""

from allauth.account import app_settings as allauth_settings
from allauth.account.models import EmailAddress
from allauth.account.signals import user_signed_up
from django.http import HttpRequest

from blogapi.accounts.models import User


def user_signup_complete(*, request: HttpRequest, user: User) -> None:
    """What allauth's complete_signup does, minus its login: announce, mail the confirmation.

    A JSON client (an app) authenticates with the token it is given; a session it never uses
    would only be one more credential to leak and to list.
    """
    user_signed_up.send(sender=User, request=request, user=user)
    if allauth_settings.EMAIL_VERIFICATION == allauth_settings.EmailVerificationMethod.NONE:
        return
    address = EmailAddress.objects.get_primary(user)
    if address is not None and not address.verified:
        address.send_confirmation(request, signup=True)
