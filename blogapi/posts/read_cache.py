"""Post reads answered from the shared cache, under a version that every post write replaces.

Only with `REDIS_URL` (a cache every worker and server shares); otherwise every read goes to the
database. A cached answer is stored with the version it was read under, and one `get_many` of
the current version and the answer serves a read: an answer of any other version is read again.

Why a reader never serves a page older than a write it could have seen:
- A post write (any save or delete of a post, a change of an author's username) replaces the
  version at the write and again when its transaction commits, so an answer read from the
  database between the two is stored under a version that is already gone.
- The version itself lives POSTS_CACHE_TTL: a write that could not reach the cache (an outage)
  leaves answers that are stale for at most that long.

Only answers the same for every signed-in caller are cached (the post views' GETs, after DRF's
authentication, permission and throttle checks have run for the caller).
"""

import hashlib
import logging
import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from rest_framework.request import Request
from rest_framework.response import Response

logger = logging.getLogger(__name__)

VERSION_KEY = "posts:version"
ANSWER_PREFIX = "posts:answer:"


def _ttl() -> int:
    return max(1, int(settings.POSTS_CACHE_TTL.total_seconds()))


def cache_in_use() -> bool:
    """Whether post reads are cached: only in a cache every worker and server shares."""
    return bool(settings.REDIS_URL)


def _answer_key(request: Request) -> str:
    # The absolute URI: the answer's `next`/`previous` links carry the scheme and host asked for.
    uri = request.build_absolute_uri()
    return ANSWER_PREFIX + hashlib.sha256(uri.encode("utf-8", "surrogatepass")).hexdigest()


def cached_read(request: Request, read: Callable[[], Response]) -> Response:
    """`read()`'s answer, from the cache when stored under the current version."""
    if not cache_in_use():
        return read()
    key = _answer_key(request)
    try:
        found = cache.get_many([VERSION_KEY, key])
        version, stored = found.get(VERSION_KEY), found.get(key)
        if version is not None and stored is not None and stored[0] == version:
            return Response(stored[1])
        if version is None:
            # Before the database read, as a write replaces it: the answer is labelled with a
            # version no later than the data it holds.
            version = secrets.token_hex(8)
            if not cache.add(VERSION_KEY, version, timeout=_ttl()):
                version = cache.get(VERSION_KEY)
    except Exception:  # an outage: the database answers
        logger.warning("post cache unreachable; read from the database", exc_info=True)
        return read()
    response = read()
    if response.status_code == 200 and version is not None:
        try:
            cache.set(key, (version, response.data), timeout=_ttl())
        except Exception:
            logger.warning("post cache unreachable; answer not stored", exc_info=True)
    return response


def _replace_version() -> None:
    try:
        cache.set(VERSION_KEY, secrets.token_hex(8), timeout=_ttl())
    except Exception:  # answers stay stale for at most the version's lifetime
        logger.warning("post cache unreachable; version not replaced", exc_info=True)


def posts_changed(**_: Any) -> None:
    """Replace the version now and when the transaction commits (connected to post writes)."""
    if not cache_in_use():
        return
    _replace_version()
    transaction.on_commit(_replace_version)
