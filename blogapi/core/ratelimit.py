"""Atomic fixed-window counters shared by every worker and server: Redis, else the database.

Written here rather than taken from allauth or DRF: allauth's limits and DRF's throttles
read-modify-write the cache (several workers can each pass the last free slot; allauth's docs
admit "11 or 12 of 10"), and with no Redis their cache is per-process memory. A window opens at
the first hit and lasts its length; Python's clock decides, on either backend.
"""

import hashlib
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import F
from django.http import HttpRequest
from rest_framework.exceptions import APIException, Throttled

from blogapi.core.clients import client_ip, ip_rate_limit_key
from blogapi.core.models import RateLimitBucket
from blogapi.core.rates import Rate, parse_rate


def rate_for(scope: str) -> Rate:
    return parse_rate(settings.RATE_LIMITS[scope])


class RateLimitExceeded(Throttled):
    """429 with Retry-After (a DRF exception; middleware renders it outside DRF too)."""


class RateLimitUnavailable(APIException):
    """The counters cannot be reached: refuse (fail closed) rather than allow unlimited tries."""

    status_code = 503
    default_detail = "Temporarily unavailable, please retry shortly."
    default_code = "rate_limit_unavailable"


@dataclass(frozen=True)
class Hit:
    count: int
    retry_after: int


def _now_ms() -> int:
    return int(time.time() * 1000)


_REDIS_HIT = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local expires = tonumber(redis.call('HGET', KEYS[1], 'e') or '0')
if expires <= now then
  expires = now + window
  redis.call('HSET', KEYS[1], 'c', 1, 'e', expires)
  redis.call('PEXPIRE', KEYS[1], window + 60000)
  return {1, expires}
end
return {redis.call('HINCRBY', KEYS[1], 'c', 1), expires}
"""
_REDIS_REFUND = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 and tonumber(redis.call('HGET', key, 'c')) > 0 then
    redis.call('HINCRBY', key, 'c', -1)
  end
end
"""


@lru_cache(maxsize=1)
def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _key(scope: str, key: str) -> str:
    """Readable for ordinary keys; hashed when long or unprintable (NUL never reaches a driver)."""
    if len(key) > 120 or not key.isprintable():
        key = "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"rl:{scope}:{key}"


def _hit(bucket: str, window_ms: int) -> tuple[int, int]:
    now = _now_ms()
    if settings.REDIS_URL:
        count, expires = _redis(settings.REDIS_URL).eval(_REDIS_HIT, 1, bucket, now, window_ms)
        return int(count), int(expires)
    table = RateLimitBucket._meta.db_table
    with connection.cursor() as cursor:
        # One statement: atomic on SQLite and PostgreSQL, whatever other workers do.
        cursor.execute(
            f"INSERT INTO {table} (bucket, count, expires_ms) VALUES (%s, 1, %s) "  # noqa: S608
            f"ON CONFLICT (bucket) DO UPDATE SET "
            f"count = CASE WHEN {table}.expires_ms <= %s THEN 1 ELSE {table}.count + 1 END, "
            f"expires_ms = CASE WHEN {table}.expires_ms <= %s THEN excluded.expires_ms "
            f"ELSE {table}.expires_ms END "
            f"RETURNING count, expires_ms",
            [bucket, now + window_ms, now, now],
        )
        count, expires = cursor.fetchone()
    return int(count), int(expires)


def hit(scope: str, key: str) -> Hit:
    """Count one hit against `scope` for `key`; the count includes this hit."""
    rate = rate_for(scope)
    try:
        count, expires = _hit(_key(scope, key), rate.window * 1000)
    except (DatabaseError, OSError) as error:
        raise RateLimitUnavailable() from error
    except Exception as error:
        if type(error).__module__.startswith("redis"):
            raise RateLimitUnavailable() from error
        raise
    return Hit(count=count, retry_after=max(1, -(-(expires - _now_ms()) // 1000)))


def consume(scope: str, key: str) -> None:
    """Count one hit; over the limit → RateLimitExceeded (429 with Retry-After)."""
    result = hit(scope, key)
    if result.count > rate_for(scope).limit:
        raise RateLimitExceeded(wait=result.retry_after)


def ip_key(request: HttpRequest | None) -> str:
    """The key of the request's per-IP counters (an IPv6 client's by its network, see
    ip_rate_limit_key); requests with no known IP share one."""
    ip = client_ip(request) if request is not None else None
    return ip_rate_limit_key(ip) if ip else "unknown"


def consume_for_ip(scope: str, request: HttpRequest | None) -> None:
    """consume() charged to the request's client IP."""
    consume(scope, ip_key(request))


def refund(*charges: tuple[str, str]) -> None:
    """Take back one hit of each (scope, key), in one round trip (a login that succeeded)."""
    buckets = [_key(scope, key) for scope, key in charges]
    if settings.REDIS_URL:
        _redis(settings.REDIS_URL).eval(_REDIS_REFUND, len(buckets), *buckets)
    else:
        RateLimitBucket.objects.filter(bucket__in=buckets, count__gt=0).update(count=F("count") - 1)


def clear(scope: str, key: str) -> None:
    """Forget every hit (e.g. a successful password reset ends a lockout)."""
    bucket = _key(scope, key)
    if settings.REDIS_URL:
        _redis(settings.REDIS_URL).delete(bucket)
    else:
        RateLimitBucket.objects.filter(bucket=bucket).delete()


def purge_expired() -> int:
    """Delete database windows that have closed; Redis expires its own."""
    deleted, _ = RateLimitBucket.objects.filter(expires_ms__lte=_now_ms()).delete()
    return deleted
