"""Gunicorn settings for `make serve`, from the environment (BIND/PORT, WEB_CONCURRENCY, ...)."""

import gc
import os

from gunicorn.glogging import Logger

from blogapi.core.logging import RedactingJsonFormatter, RedactingTextFormatter

# Each worker holds a database connection (kept for DATABASE_CONN_MAX_AGE): more processes than
# this buy no throughput for a small API and exhaust PostgreSQL's connection slots.
MAX_DEFAULT_WORKERS = 12


def _whole_number(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit() and int(raw) >= 1):
        raise ValueError(f"{name} must be a whole number of at least 1, not {raw!r}.")
    return int(raw)


def _cpu_count() -> int:
    # The CPUs this process may run on (a container's cpuset), not the whole machine's.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class RedactingLogger(Logger):
    """Gunicorn's own lines through the app's formatter (LOG_FORMAT); no access log of its own.

    Gunicorn's access line holds the raw path and query string (a mailed reset link's token);
    the app writes one redacted `blogapi.request` line per request instead.
    """

    def setup(self, cfg: object) -> None:
        super().setup(cfg)
        text = os.environ.get("LOG_FORMAT", "json") == "text"
        for handler in self.error_log.handlers:
            handler.setFormatter(RedactingTextFormatter() if text else RedactingJsonFormatter())

    def access(self, *args: object, **kwargs: object) -> None:
        return None


bind = os.environ.get("BIND") or f"0.0.0.0:{_whole_number('PORT', 8000)}"
workers = _whole_number("WEB_CONCURRENCY", min(2 * _cpu_count() + 1, MAX_DEFAULT_WORKERS))
worker_class = "sync"
# A request running longer than this is killed (its worker restarted).
timeout = _whole_number("GUNICORN_TIMEOUT", 30)
# On stop or reload, workers finish their requests (mail is already queued in the database).
graceful_timeout = 30
# Sync workers close every connection after its response; this applies only to other workers.
keepalive = 5
# Recycle workers now and then (bounded memory growth), not all at once. Not too often: a
# worker's first requests are its slowest (a new database connection), and at 1,000 a busy
# worker restarted every second (docs/benchmarks.md).
max_requests = 10000
max_requests_jitter = 1000
# Preload: the master imports and warms the app once and forks the workers from it, so they share
# those pages copy-on-write instead of each importing a copy of its own: per worker PSS after
# 2,000 reads ~56 -> ~33 MB (USS ~51 -> ~18 MB); RSS, which counts shared pages in full, hardly
# changes. Nothing opened is shared: nothing connects at import (the database and Redis
# are opened on first use, in each worker), and pre_fork closes any database
# connection the master holds. Traded: a HUP no longer loads new code; it re-reads this file and
# restarts the workers from the code the master imported. New code takes a restart, as
# docs/deployment.md rolls servers (SIGTERM lets in-flight requests finish), or `kill -USR2`
# (a new master with the new code beside the old one) then SIGTERM to the old master.
preload_app = True

logger_class = RedactingLogger
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

# Trust X-Forwarded-* from nobody here: Django decides by TRUSTED_PROXY_COUNT, in one place.
forwarded_allow_ips = ""
# The gunicornc control socket (resizing, reloading) is one more interface nobody uses here; its
# default path in $HOME would also collide between two servers on one machine.
control_socket_disable = True
# The workers' heartbeat files on tmpfs: a slow disk must not make the arbiter kill healthy workers.
_TMPFS = "/dev/shm"  # noqa: S108 - gunicorn creates and unlinks its own files there
if os.path.isdir(_TMPFS):
    worker_tmp_dir = _TMPFS
proc_name = "blogapi"


def _warm() -> None:
    """Load now what Django and its libraries load on first use: with preload, in the master.

    The URLconf and with it every view module (the first request paid ~150 ms), and what a
    worker imported after its first requests (~8 MB, most of it redis-py): the authentication
    backends, the password hashers' libraries (argon2-cffi), the message and session
    serializers, the Redis client (with REDIS_URL only: without it nothing uses redis-py, ~3 MB
    of the master's RSS and ~2 MB of every worker's PSS with redis-py 6.4). Imported in the
    master, the workers share these pages.
    """
    import importlib

    from django.conf import settings
    from django.contrib.auth import get_backends
    from django.contrib.auth.hashers import get_hashers
    from django.urls import get_resolver
    from django.utils.module_loading import import_string

    get_resolver().url_patterns  # noqa: B018 - the property loads the URLconf
    get_backends()
    for hasher in get_hashers():
        library = hasher.library  # a module path, or (name, module path)
        if library:
            importlib.import_module(library if isinstance(library, str) else library[1])
    import_string(settings.MESSAGE_STORAGE)
    import_string(settings.SESSION_SERIALIZER)
    if settings.REDIS_URL:
        importlib.import_module("django_redis.cache")  # the cache's client, opened on use
        importlib.import_module("redis")  # and the rate limits'


def pre_fork(server: object, worker: object) -> None:
    """In the master, before every fork (a worker recycled by max_requests too).

    With the app preloaded: warm it, close any database connection (a connection must never
    be shared by two processes), then gc.freeze() everything, as Python's gc docs advise just
    before a fork: collections in the workers no longer walk (and so write to, unsharing the
    pages of) the objects they inherited.
    """
    from django.apps import apps

    if not apps.ready:  # preload off (or the app failed to load): the workers import it
        return
    from django.db import connections

    _warm()
    connections.close_all()
    gc.freeze()


def post_worker_init(worker: object) -> None:
    """Warm the worker before its first request (done already when preloaded), then freeze.

    gc.freeze() moves the objects of every import into a permanent generation that
    collections no longer walk.
    """
    _warm()
    gc.freeze()
