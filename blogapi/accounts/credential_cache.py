"""Credential lookups through the shared cache, and the rule that keeps revocation immediate.

Two kinds are looked up on every request: device tokens (by the key's digest) and JWT refresh
families (by id, named in each access token). Only a cache every worker and server shares may
hold credentials: with `REDIS_URL` unset (the per-process default cache) every lookup reads the
database. With it, a lookup is one cache round trip (`get_many` of the current epoch and the
entry); the database is read when the entry is missing or was written under an older epoch.

Why revocation stays immediate, on every server, through a cache outage and its recovery:
- Revoking writes a tombstone over the entry, at the deletion and again at the commit, before
  the revoking request answers; a tombstone sends lookups to the database. Lookups only ever
  *add* entries (never overwrite), so one that read the database just before the revocation
  cannot put the credential back.
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
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Generic, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from blogapi.accounts.models import DeviceToken, RefreshFamily

logger = logging.getLogger(__name__)

EPOCH_KEY = "credentials:epoch"
REVOKED = "revoked"

Row = TypeVar("Row", DeviceToken, RefreshFamily)


def cache_is_shared() -> bool:
    """Whether credentials may be cached: only in a cache every worker and server shares."""
    return bool(settings.REDIS_URL)


def _ttl() -> int:
    return max(1, int(settings.AUTH_CREDENTIAL_CACHE_TTL.total_seconds()))


class CredentialCache(Generic[Row]):
    """Rows of one credential kind cached by a lookup key (with their user, no password hash)."""

    def __init__(self, name: str, load: Callable[[str], Row | None]) -> None:
        self.prefix = f"credentials:{name}:"
        self.touched_prefix = f"credentials:{name}:touched:"  # when last_used_at was written
        self.load: Callable[[str], Row | None] = load

    def lookup(self, key: str) -> Row | None:
        """The row with this key and its user, or None: from the cache when it may be trusted."""
        if not cache_is_shared():
            return self.load(key)
        entry_key, touched_key = self.prefix + key, self.touched_prefix + key
        try:
            found = cache.get_many([EPOCH_KEY, entry_key, touched_key])
            entry, epoch = found.get(entry_key), found.get(EPOCH_KEY)
            if (
                entry is not None
                and entry != REVOKED
                and epoch is not None
                and entry[0] == epoch[0]
            ):
                row: Row = entry[1]
                last_written = found.get(touched_key)
                if last_written is not None and last_written > row.last_used_at:
                    row.last_used_at = last_written
                return row
            if epoch is None:
                # Before the database read: an epoch made after a revocation's commit must never
                # label a row read before it.
                epoch = (secrets.token_hex(8), time.time())
                if not cache.add(EPOCH_KEY, epoch, timeout=_ttl()):
                    epoch = cache.get(EPOCH_KEY)
        except Exception:  # an outage: the database decides, as without a cache
            logger.warning("credential cache unreachable; read from the database", exc_info=True)
            return self.load(key)
        found_row = self.load(key)
        if found_row is not None and epoch is not None:
            # The entry dies with its epoch; add() never overwrites a tombstone or a newer entry.
            remaining = math.ceil(epoch[1] + _ttl() - time.time())
            if remaining >= 1:
                try:
                    cache.add(entry_key, (epoch[0], found_row), timeout=remaining)
                except Exception:
                    logger.warning("credential cache unreachable; entry not written", exc_info=True)
        return found_row

    def touched(self, key: str, last_used_at: datetime) -> None:
        """Note that the row's last_used_at was just written, for lookups of its cached entry."""
        if not cache_is_shared():
            return
        # Kept as long as a cached entry can be (its epoch) and as the touch interval it spaces out.
        timeout = max(2 * _ttl(), int(2 * settings.AUTH_TOKEN_TOUCH_INTERVAL.total_seconds()))
        try:
            cache.set(self.touched_prefix + key, last_used_at, timeout=timeout)
        except Exception:  # the next lookup writes last use again: harmless
            logger.warning("credential cache unreachable; last use not noted", exc_info=True)

    def revoked(self, keys: Iterable[str]) -> None:
        """Tombstone these rows' entries now, and again when the transaction commits.

        Called for every deleted row (post_delete receivers), so every path that deletes a
        credential, from the API to the admin and cascades, goes through here. A tombstone only
        sends lookups to the database, which decides: a deletion rolled back leaves it working.
        """
        if not cache_is_shared():
            return
        tombstones = {self.prefix + key: REVOKED for key in keys}
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
    logger.warning(
        "waiting %d s so that no credential cached before the revocation is trusted", _ttl()
    )
    time.sleep(_ttl() + 1)


def _device_token(digest: str) -> DeviceToken | None:
    # The password hash stays out of the cache, and a save() of a cached user cannot write back
    # a stale one: Django saves only the loaded fields of an instance with deferred fields.
    return (
        DeviceToken.objects.select_related("user")
        .defer("user__password")
        .filter(digest=digest)
        .first()
    )


def _refresh_family(pk: str) -> RefreshFamily | None:
    return (
        RefreshFamily.objects.select_related("user")
        .defer("user__password", "digest")
        .filter(pk=int(pk))
        .first()
    )


device_tokens: CredentialCache[DeviceToken] = CredentialCache("token", _device_token)
refresh_families: CredentialCache[RefreshFamily] = CredentialCache("jwt", _refresh_family)
