"""`make serve`: gunicorn's settings come from the environment, and a real server runs on them."""

import importlib.util
import json
import os
import runpy
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from blogapi.core.tests.processes import free_port
from conftest import REPO

CONFIG = REPO / "gunicorn.conf.py"
SERVER_ENV = ("BIND", "PORT", "WEB_CONCURRENCY", "GUNICORN_", "LOG_", "FORWARDED_ALLOW_IPS")
APP_ENV = ("DJANGO_", "AUTH_", "ACCOUNT_", "DATABASE_", "REDIS_URL", "EMAIL_", "FRONTEND_URL")


def gunicorn_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    """The names gunicorn.conf.py defines when loaded with only `env` of the server's variables."""
    for name in list(os.environ):
        if name.startswith(SERVER_ENV):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONFIG))


def test_gunicorn_defaults_suit_production(monkeypatch: pytest.MonkeyPatch) -> None:
    config = gunicorn_settings(monkeypatch)

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert config["bind"] == "0.0.0.0:8000"
    assert config["workers"] == min(2 * (cpus or 1) + 1, 12)
    assert config["worker_class"] == "sync"
    assert config["timeout"] == 30
    assert config["graceful_timeout"] == 30
    assert config["max_requests"] == 10000
    assert config["max_requests_jitter"] == 1000
    assert config["preload_app"] is True
    assert config["accesslog"] is None
    assert config["loglevel"] == "info"
    assert config["forwarded_allow_ips"] == ""
    assert config["control_socket_disable"] is True


@pytest.mark.parametrize(
    ("redis_url", "redis_loaded"),
    # redis-py (~3 MB) only where it is used: none of it is loaded without REDIS_URL.
    [("redis://127.0.0.1:6379/15", "True"), ("", "False")],
)
def test_the_master_warms_the_app_closes_connections_and_freezes_before_each_fork(
    tmp_path: Path, redis_url: str, redis_loaded: str
) -> None:
    """What workers would import on first use is loaded once, in the master, and shared."""
    code = (
        "import gc, runpy, sys; import blogapi.wsgi; "
        "from django.db import connection; connection.ensure_connection(); "
        "lazy = ('redis', 'argon2', 'django.contrib.messages.storage.fallback'); "
        "print([name in sys.modules for name in lazy]); "
        f"runpy.run_path({str(CONFIG)!r})['pre_fork'](None, None); "
        "print([name in sys.modules for name in lazy], connection.connection is None, "
        "gc.get_freeze_count() > 0)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(APP_ENV)}
    env |= {"DJANGO_DEBUG": "true", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    env |= {"REDIS_URL": redis_url}  # opened on first use: no server needed here
    result = subprocess.run(  # noqa: S603 - fixed interpreter and code
        [sys.executable, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "blogapi.settings"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "[False, False, False]",
        f"[{redis_loaded}, True, True] True True",
    ]


def test_gunicorn_takes_port_workers_timeout_and_level_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = gunicorn_settings(
        monkeypatch, PORT="9001", WEB_CONCURRENCY="3", GUNICORN_TIMEOUT="75", LOG_LEVEL="WARNING"
    )

    assert config["bind"] == "0.0.0.0:9001"
    assert config["workers"] == 3
    assert config["timeout"] == 75
    assert config["loglevel"] == "warning"


def test_bind_overrides_port(monkeypatch: pytest.MonkeyPatch) -> None:
    config = gunicorn_settings(monkeypatch, PORT="9001", BIND="127.0.0.1:8001")

    assert config["bind"] == "127.0.0.1:8001"


@pytest.mark.parametrize(
    ("name", "value"),
    [("WEB_CONCURRENCY", "0"), ("WEB_CONCURRENCY", "many"), ("GUNICORN_TIMEOUT", "-5")],
)
def test_gunicorn_refuses_nonsense_numbers(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    with pytest.raises(ValueError, match=name):
        gunicorn_settings(monkeypatch, **{name: value})


def test_gunicorn_writes_no_access_log_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    logger_class = gunicorn_settings(monkeypatch)["logger_class"]

    assert logger_class.access(object(), "resp", "req", {}, 0) is None


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_serve_collects_static_files_migrates_then_runs_gunicorn() -> None:
    result = subprocess.run(
        ["make", "-n", "serve"],  # noqa: S607 - make from PATH, as a developer runs it
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    steps = [
        line
        for line in result.stdout.splitlines()
        if any(word in line for word in ("manage.py", "gunicorn", "compileall"))
    ]
    assert "collectstatic --noinput" in steps[0]
    assert "migrate --noinput" in steps[1]
    assert steps[2].endswith("-m compileall -q blogapi")  # bytecode even if it cannot be written
    assert steps[3].endswith("exec .venv/bin/gunicorn -c gunicorn.conf.py blogapi.wsgi:application")
    assert "DJANGO_DEBUG" not in result.stdout


def test_dependencies_are_installed_with_their_bytecode() -> None:
    """`make install` compiles it: a worker that compiles from source carries ~9 MB more."""
    import django
    import rest_framework.views

    for module in (django, rest_framework.views):
        assert module.__file__ is not None
        bytecode = Path(importlib.util.cache_from_source(module.__file__))
        assert bytecode.is_file(), f"no bytecode for {module.__file__}: run `make install`"


# --- A real server ----------------------------------------------------------------------------


def fetch(url: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers=headers)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def wait_until_up(url: str, server: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "gunicorn exited during startup"
        try:
            if fetch(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"no answer from {url} within {timeout} s")


def production_env(tmp_path: Path, port: int) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(SERVER_ENV + APP_ENV)
    }
    return {
        **inherited,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "EMAIL_URL": "dummymail://",  # these servers send no mail
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
    }


def start_gunicorn(env: dict[str, str], log: Path) -> subprocess.Popen:
    """gunicorn as `make serve` runs it, in its own session, its output in `log`."""
    with log.open("w") as output:
        return subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "gunicorn", "-c", CONFIG.name, "blogapi.wsgi:application"],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.mark.system
def test_gunicorn_serves_probes_static_files_and_redacted_json_logs(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = production_env(tmp_path, port)
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "manage.py", *command],
            cwd=REPO,
            env=env,
            capture_output=True,
            timeout=180,
            check=True,
        )
    token, query, key = (secrets.token_urlsafe(16) for _ in range(3))
    reset_page = f"{base}/api/v1/dj-rest-auth/password/reset/confirm/MQ/{token}/"
    log = tmp_path / "server.log"
    server = start_gunicorn(env, log)
    try:
        wait_until_up(f"{base}/healthz", server, timeout=30)
        ready = fetch(f"{base}/readyz", **{"X-Request-ID": "smoke-1"})
        static = fetch(f"{base}/static/admin/css/base.css", **{"Accept-Encoding": "gzip"})
        page = fetch(f"{reset_page}?q={query}", Authorization=f"Token {key}")
        refused = fetch(reset_page, method="POST")  # no CSRF token: Django logs the path
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)

    assert ready[0] == 200
    assert json.loads(ready[2]) == {
        "status": "ok",
        "tasks": {"depth": 0, "oldest_age_seconds": None, "stuck": False},
    }
    assert ready[1]["X-Request-ID"] == "smoke-1"
    assert static[0] == 200
    assert static[1]["Content-Type"].startswith("text/css")
    assert static[1]["Content-Encoding"] == "gzip"
    assert page[0] == 200
    assert refused[0] == 403
    written = log.read_text()
    for secret in (token, query, key):
        assert secret not in written
    lines = [json.loads(line) for line in written.splitlines() if line.strip()]  # all JSON
    loggers = {line["logger"] for line in lines}
    assert "gunicorn.error" in loggers
    assert "gunicorn.access" not in loggers
    requests = [line for line in lines if line["logger"] == "blogapi.request"]
    assert [(line["path"], line["status"]) for line in requests][-3:] == [
        ("/static/admin/css/base.css", 200),
        ("/api/v1/dj-rest-auth/password/reset/confirm/***/***/", 200),
        ("/api/v1/dj-rest-auth/password/reset/confirm/***/***/", 403),
    ]


@pytest.mark.system
def test_recycled_workers_leave_cleanly_and_are_replaced(tmp_path: Path) -> None:
    """max_requests ends workers: status 0, no error, service goes on."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = production_env(tmp_path, port)
    env["GUNICORN_CMD_ARGS"] = "--max-requests 2 --max-requests-jitter 0"
    log = tmp_path / "server.log"
    server = start_gunicorn(env, log)
    try:
        wait_until_up(f"{base}/healthz", server, timeout=30)
        statuses = []
        for _ in range(6):
            statuses.append(fetch(f"{base}/healthz")[0])
            time.sleep(0.3)  # the next request finds the replacement up
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)

    assert statuses == [200] * 6
    assert server.returncode == 0
    messages = [json.loads(line)["message"] for line in log.read_text().splitlines() if line]
    assert sum(m.startswith("Booting worker") for m in messages) >= 4
    assert sum(m.startswith("Worker exiting") for m in messages) >= 4
    assert not [m for m in messages if "exited with code" in m or "during worker exit" in m]
