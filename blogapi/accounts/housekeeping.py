"""The accounts' periodic purges, run by the task worker (blogapi.core.housekeeping)."""

from datetime import timedelta

from blogapi.accounts.services.activity import activity_purge_expired
from blogapi.accounts.services.credentials import device_token_purge_expired
from blogapi.accounts.services.deletion import account_deletions_purge
from blogapi.accounts.services.jwt_families import jwt_family_purge_expired
from blogapi.core.housekeeping import register


def expired_tokens_purge() -> int:
    """What `manage.py purge_expired_tokens` does: expired device tokens and JWT sign-ins."""
    return device_token_purge_expired() + jwt_family_purge_expired()


register("expired_tokens_purge", every=timedelta(hours=1), run=expired_tokens_purge)
# What `purge_activity` and `purge_deleted_accounts` do; both idempotent and safe run at once.
register("activity_purge", every=timedelta(hours=6), run=activity_purge_expired)
register("deleted_accounts_purge", every=timedelta(hours=1), run=account_deletions_purge)
