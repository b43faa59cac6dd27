"""Token lookups through the shared cache, and the rule that keeps revocation immediate.

Only a cache every worker and server shares may hold credentials: with `REDIS_URL` unset (the
per-process default cache) every lookup reads the database. With it, a lookup is one cache round
trip (`get_many` of the current epoch and the token's entry); the database is read when the
entry is missing or was written under an older epoch.

Why revocation stays immediate, on every server, through a cache outage and its recovery:
- Revoking writes a tombstone over the token's entry, at the deletion and again at the commit,
  before the revoking request answers; a tombstone sends lookups to the database. Lookups only
  ever *add* entries (never overwrite), so one that read the database just before the
  revocation cannot put the token back.
- Entries are valid only under the epoch they were written in; an epoch is a random value that
  lives AUTH_CREDENTIAL_CACHE_TTL and is then replaced by the first lookup that misses it.
- A revocation that cannot reach the cache (an outage) waits AUTH_CREDENTIAL_CACHE_TTL before
  answering: by then every epoch that existed before its commit has expired in the cache (its
  own clock decides, persisted or not), so whatever entry survived the outage is never served.
"""

import logging
import math
import secrets
import time
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from blogapi.accounts.models import DeviceToken

logger = logging.getLogger(__name__)

EPOCH_KEY = "credentials:epoch"
ENTRY_PREFIX = "credentials:token:"
TOUCHED_PREFIX = "credentials:touched:"  # when a cached token's last use was last written
REVOKED = "revoked"


def cache_is_shared() -> bool:
    """Whether credentials may be cached: only in a cache every worker and server shares."""
    return bool(settings.REDIS_URL)


def _ttl() -> int:
    return max(1, int(settings.AUTH_CREDENTIAL_CACHE_TTL.total_seconds()))


def _entry_key(digest: str) -> str:
    return ENTRY_PREFIX + digest


def _from_database(digest: str) -> DeviceToken | None:
    # The password hash stays out of the cache, and a save() of a cached user cannot write back
    # a stale one: Django saves only the loaded fields of an instance with deferred fields.
    return (
        DeviceToken.objects.select_related("user")
        .defer("user__password")
        .filter(digest=digest)
        .first()
    )


def token_lookup(digest: str) -> DeviceToken | None:
    """The token with this digest and its user, or None: from the cache when it may be trusted."""
    if not cache_is_shared():
        return _from_database(digest)
    key, touched_key = _entry_key(digest), TOUCHED_PREFIX + digest
    try:
        found = cache.get_many([EPOCH_KEY, key, touched_key])
        entry, epoch = found.get(key), found.get(EPOCH_KEY)
        if entry is not None and entry != REVOKED and epoch is not None and entry[0] == epoch[0]:
            token: DeviceToken = entry[1]
            last_written = found.get(touched_key)
            if last_written is not None and last_written > token.last_used_at:
                token.last_used_at = last_written
            return token
        if epoch is None:
            # Before the database read: an epoch made after a revocation's commit must never
            # label a row read before it.
            epoch = (secrets.token_hex(8), time.time())
            if not cache.add(EPOCH_KEY, epoch, timeout=_ttl()):
                epoch = cache.get(EPOCH_KEY)
    except Exception:  # an outage: the database decides, as without a cache
        logger.warning("credential cache unreachable; token read from the database", exc_info=True)
        return _from_database(digest)
    found_token = _from_database(digest)
    if found_token is not None and epoch is not None:
        # The entry dies with its epoch; add() never overwrites a tombstone or a newer entry.
        remaining = math.ceil(epoch[1] + _ttl() - time.time())
        if remaining >= 1:
            try:
                cache.add(key, (epoch[0], found_token), timeout=remaining)
            except Exception:
                logger.warning("credential cache unreachable; entry not written", exc_info=True)
    return found_token


def touched(token: DeviceToken) -> None:
    """Note that `token.last_used_at` was just written, for lookups of its cached entry."""
    if not cache_is_shared():
        return
    # Kept as long as a cached entry can be (its epoch) and as the touch interval it spaces out.
    timeout = max(2 * _ttl(), int(2 * settings.AUTH_TOKEN_TOUCH_INTERVAL.total_seconds()))
    try:
        cache.set(TOUCHED_PREFIX + token.digest, token.last_used_at, timeout=timeout)
    except Exception:  # the next lookup writes last use again: harmless
        logger.warning("credential cache unreachable; last use not noted", exc_info=True)


def revoked(digests: Iterable[str]) -> None:
    """Tombstone these tokens' entries now, and again when the transaction commits.

    Called for every deleted DeviceToken row (a post_delete receiver), so every path that
    deletes a token, from the API to the admin and cascades, goes through here. A tombstone only
    sends lookups to the database, which decides: a deletion rolled back leaves a working token.
    """
    if not cache_is_shared():
        return
    tombstones = {_entry_key(digest): REVOKED for digest in digests}
    if not tombstones:
        return
    if not _write(tombstones):
        transaction.on_commit(_wait_out_the_epoch)
        return
    transaction.on_commit(lambda: _write_again(tombstones))


def _write_again(tombstones: dict[str, str]) -> None:
    """At the commit: a tombstone must outlive every epoch older than the commit."""
    if not _write(tombstones):
        _wait_out_the_epoch()


def _write(tombstones: dict[str, str]) -> bool:
    try:
        cache.set_many(tombstones, timeout=2 * _ttl())
    except Exception:
        logger.warning("credential cache unreachable while revoking", exc_info=True)
        return False
    return True


def _wait_out_the_epoch() -> None:
    """After a revocation the cache could not hear: answer once no older epoch can be trusted."""
    logger.warning("waiting %d s so that no token cached before the revocation is trusted", _ttl())
    time.sleep(_ttl() + 1)
