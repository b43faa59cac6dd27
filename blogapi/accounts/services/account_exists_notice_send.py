"""Tell the owner of an address that someone tried to register with it."""

from allauth.account.adapter import get_adapter
from django.contrib.auth.hashers import make_password
from django.http import HttpRequest

from blogapi.accounts.links import login_url, password_reset_request_url


def account_exists_notice_send(*, request: HttpRequest, email: str, password: str) -> None:
    """Mail the existing owner instead of creating a duplicate; hash the password anyway.

    With mandatory verification the registration then answers exactly as for a new address,
    and takes as long: the hash costs what a real sign-up's hash costs.
    """
    make_password(password)
    get_adapter(request).send_mail(
        "account/email/account_already_exists",
        email,
        {"signup_url": login_url(), "password_reset_url": password_reset_request_url()},
    )
