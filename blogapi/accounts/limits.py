"""The rate limits of the authentication flows: which counter each attempt is charged to."""

from django.http import HttpRequest

from blogapi.accounts.events import auth_event
from blogapi.accounts.identifiers import canonical_identifier, user_for_login
from blogapi.accounts.models import User
from blogapi.core import ratelimit

LOGIN_FAILURES = "login_failures"
LOGIN_IP = "login_ip"


def _account_key(identifier: str) -> str:
    """The counter of the account the password check signs in to, whatever the spelling.

    The same lookup as the backend's (user_for_login), so every spelling that can sign in to an
    account is charged to it; a name that is no account is counted by its canonical form.
    """
    user = user_for_login(identifier)
    if user is not None:
        return f"user:{user.pk}"
    return "name:" + canonical_identifier(identifier)


def login_attempt_start(*, request: HttpRequest | None, identifier: str) -> str:
    """Charge a password check before any hashing; returns the account key to refund on success.

    Charging first (rather than counting failures afterwards) means racing attempts cannot all
    slip past the limit: only the first few get a password check at all.
    """
    ratelimit.consume_for_ip(LOGIN_IP, request)
    account = _account_key(identifier)
    try:
        ratelimit.consume(LOGIN_FAILURES, account)
    except ratelimit.RateLimitExceeded:
        auth_event("login.locked", user_id=account_user_id(account))
        raise
    return account


def account_user_id(account: str) -> int | None:
    """The user id in an account key; None for a name that is no account."""
    return int(account.removeprefix("user:")) if account.startswith("user:") else None


def login_user_id(identifier: str) -> int | None:
    """The id of the account a login names (by username or e-mail), if there is one."""
    return account_user_id(_account_key(identifier))


def login_attempt_succeeded(account: str, *, request: HttpRequest | None) -> None:
    """A right password costs no budget: both charges of login_attempt_start are taken back.

    Why refunds rather than counting failures after the hash: a count made afterwards lets any
    number of racing attempts pass the check before the first is counted. With the charge first
    and the refund on success, each counter holds the failures plus the checks still running,
    so an honest client (Basic pays a check on every request) never spends its budget, and no
    more than the limit of password checks run at once for one account or one IP. A refund
    takes back one hit, never resets, so a success clears no earlier failure.
    """
    ratelimit.refund((LOGIN_FAILURES, account), (LOGIN_IP, ratelimit.ip_key(request)))


def login_failures_clear(*, user: User) -> None:
    """After a password reset the owner may log in at once."""
    ratelimit.clear(LOGIN_FAILURES, f"user:{user.pk}")
