"""CPU per request in one process, no server: the app called as WSGI in a loop.

`python bench/inprocess.py [--posts N] [--requests N]` on the database DATABASE_URL names (a
throwaway SQLite file when unset) with production settings; prints the best of three rounds of
CPU time per request for the ceiling, the token-authenticated list's first page and a post's
detail. Steadier than wrk on a shared machine: it leaves out the server, the load generator and
the database server's own CPU (docs/benchmarks.md). Not part of `make test`.
"""

import argparse
import io
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
USER, PASSWORD = "bench", "correct horse battery staple"
SETTINGS = {
    "DJANGO_SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789abcdef",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    "DJANGO_SECURE_SSL_REDIRECT": "false",
    "DJANGO_SECURE_COOKIES": "false",
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "LOG_LEVEL": "WARNING",
}

StartResponse = Callable[..., Any]


def environ(path: str, token: str | None = None, body: bytes = b"") -> dict[str, Any]:
    """A WSGI environ as gunicorn builds it for a request from 127.0.0.1."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": "POST" if body else "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_ACCEPT": "application/json",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
    }
    if token:
        env["HTTP_AUTHORIZATION"] = f"Token {token}"
    return env


def call(
    app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]], env: dict[str, Any]
) -> bytes:
    statuses: list[str] = []
    body = b"".join(app(env, lambda status, headers, exc_info=None: statuses.append(status)))
    if not statuses[0].startswith(("200", "201")):
        raise SystemExit(f"{env['PATH_INFO']}: {statuses[0]} {body[:200]!r}")
    return body


def cpu_ms_per_request(request: Callable[[], bytes], count: int) -> float:
    """Best of three rounds of `count` requests, after 50 to warm up."""
    for _ in range(50):
        request()
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for _ in range(count):
            request()
        best = min(best, (time.process_time() - started) / count * 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=10, help="posts by the reader")
    parser.add_argument("--requests", type=int, default=1000, help="requests per round")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="blogapi-inprocess-")
    os.environ.update(SETTINGS)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{Path(tmp.name) / 'bench.sqlite3'}")
    sys.path.insert(0, str(REPO))

    import django
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("demo_data", posts=args.posts, username=USER, password=PASSWORD)
    # Each request still writes its log line, to /dev/null instead of the terminal.
    devnull = open(os.devnull, "w")  # noqa: SIM115 - open for the whole run
    loggers = [logging.getLogger(), *map(logging.getLogger, logging.root.manager.loggerDict)]
    for handler in {h for logger in loggers for h in getattr(logger, "handlers", [])}:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    app = WSGIHandler()
    login = json.dumps({"username": USER, "password": PASSWORD}).encode()
    token = json.loads(call(app, environ("/api/v1/dj-rest-auth/login/", body=login)))["key"]
    newest = json.loads(call(app, environ("/api/v1/", token)))["results"][0]["id"]

    scenarios = {
        "Ceiling": lambda: call(app, environ("/bench/ceiling/")),
        "List, first page": lambda: call(app, environ("/api/v1/", token)),
        "Post detail": lambda: call(app, environ(f"/api/v1/{newest}/", token)),
    }
    database = os.environ["DATABASE_URL"].split(":", 1)[0]
    print(f"{database}, {args.posts} posts, best of 3 x {args.requests} requests (CPU ms):")
    for label, request in scenarios.items():
        print(f"  {label:<18} {cpu_ms_per_request(request, args.requests):.3f}", flush=True)
    tmp.cleanup()


if __name__ == "__main__":
    main()
