"""Real processes for the system tests and `make bench`: PostgreSQL, Redis, servers, SMTP.

Everything binds to 127.0.0.1 on free ports and lives in a temporary folder, so the tests can
stop and start these services without touching the machine's own PostgreSQL and Redis.
"""

import glob
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller

REPO = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: S110 - not up yet: try again until the deadline
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready within {timeout} s")


def wait_for_api(url: str, what: str) -> None:
    """Wait until the server at `url` answers the API root (401 to an anonymous caller)."""
    wait_for(lambda: requests.get(f"{url}/api/v1/", timeout=2).status_code == 401, 30, what)


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def missing_tools() -> list[str]:
    missing = [] if postgres_bin() else ["PostgreSQL server binaries"]
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing.append("runuser")
    return missing


def skip_without_tools(also_missing: Sequence[str] = (), how: str = "installed in CI") -> None:
    """Skip the calling test module when a tool is missing; in CI (CI=true) fail instead.

    `also_missing` names the module's own missing tools; `how` tells how to get them.
    """
    missing = ", ".join([*missing_tools(), *also_missing])
    if not missing:
        return
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI needs {missing} for the system tests")
    pytest.skip(f"system tests need {missing} ({how})", allow_module_level=True)


_names = itertools.count(1)


def unique_name(prefix: str) -> str:
    """A username no test of this run has used: the servers and their database outlive a test."""
    return f"{prefix}{next(_names)}"


def require_tools(also_missing: Sequence[str] = (), how: str = "installed in CI") -> Any:
    """An autouse module fixture that calls skip_without_tools when the module's tests run.

    Not at import: every pass collects every module, and the passes that deselect the system
    tests (`make pytest`, `-m "not system"`) would fail in CI on a machine whose Chromium is
    only installed later, by `make pytest-system`.
    """

    @pytest.fixture(scope="module", autouse=True)
    def _required_tools() -> None:
        skip_without_tools(also_missing, how)

    return _required_tools


class PostgresCluster:
    """initdb + pg_ctl on a free port; stop() and start() simulate an outage."""

    def __init__(self) -> None:
        found = postgres_bin()
        assert found is not None
        self.bin: Path = found
        # Directly under the temp dir: the postgres user must reach it (pytest's are root-only).
        self.root, self.port = Path(tempfile.mkdtemp(prefix="blogapi-pg-")), free_port()
        self.data, self.log = self.root / "pgdata", self.root / "postgres.log"
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)  # noqa: S603

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> str:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"


class RedisServer:
    """A private redis-server that keeps nothing on disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [
                str(shutil.which("redis-server")),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for(lambda: socket.create_connection(("127.0.0.1", self.port), 1), 10, "redis")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def pause(self) -> None:
        """Unreachable but keeping its data, as behind a network partition (SIGSTOP)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


class SmtpPeer:
    """aiosmtpd collecting every message it receives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[Any] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def bodies_to(self, address: str) -> list[str]:
        """The text of every message received for `address` so far, in order of arrival."""
        bodies = []
        for message in list(self.messages):
            if message["To"] == address:
                part = message.get_payload(0) if message.is_multipart() else message
                bodies.append(str(part.get_payload(decode=True).decode()))
        return bodies

    def body_to(self, address: str, *, count: int = 1, timeout: float = 20) -> str:
        """The newest of at least `count` messages to `address`, waiting for it to arrive."""
        wait_for(lambda: len(self.bodies_to(address)) >= count, timeout, f"mail to {address}")
        return self.bodies_to(address)[-1]

    def link_to(self, address: str, pattern: str, *, timeout: float = 10) -> str:
        """The newest text matching `pattern` mailed to `address`, waiting for it to arrive.

        The task worker sends mail in the background (and retries), so mails may arrive out of
        order: the match is looked for in every message, not only the newest.
        """

        def links() -> list[str]:
            return [m[0] for body in self.bodies_to(address) if (m := re.search(pattern, body))]

        wait_for(links, timeout, f"a link matching {pattern!r} mailed to {address}")
        return links()[-1]


class AppServer:
    """`gunicorn blogapi.wsgi` on a free loopback port, as `make serve` runs it."""

    def __init__(self, env: dict[str, str], log: Path, workers: int = 2) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env, self.log, self.workers = env, log, workers
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**self.env, "BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": str(self.workers)}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [
                    str(VENV_BIN / "gunicorn"),
                    "blogapi.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    str(self.workers),
                    "--timeout",
                    "30",
                    "--graceful-timeout",
                    "5",
                ],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_api(self.url, f"gunicorn on {self.port}")

    def worker_pids(self) -> list[int]:
        """The master's children: its workers, from /proc."""
        assert self.process is not None
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return children

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None


class TaskWorker:
    """`manage.py worker` (make worker): delivers the queued mail, runs the housekeeping."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                # Polls every 0.1 s (1 s by default) so that tests wait less for their mail.
                [sys.executable, "manage.py", "worker", "--no-reload", "--interval", "0.1"],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(lambda: b"Starting worker" in self.log.read_bytes(), 30, "task worker")

    def stop(self) -> None:
        """SIGTERM: the worker finishes its task, then exits."""
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None


class DevServer:
    """`manage.py runserver` on a free loopback port, as `make run` runs it.

    As the Makefile does: DJANGO_DEBUG=true unless the environment sets it, PORT exported,
    `migrate`, then runserver on 127.0.0.1 with its autoreloader (a second process).
    """

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env, self.log = env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {"DJANGO_DEBUG": "true", **self.env, "PORT": str(self.port)}
        manage(env, "migrate", "--noinput")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: stop() ends the autoreloader and the server it runs.
                start_new_session=True,
            )
        wait_for_api(self.url, f"runserver on {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            self.process = None


def memory_mb(pid: int) -> tuple[float, float]:
    """A process's PSS and RSS in MB, from one walk of its pages (/proc/<pid>/smaps_rollup).

    RSS counts every page a process maps; PSS divides each shared page among its sharers (a
    preloaded gunicorn's workers share most of theirs with the master): what one more costs.
    """
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("Pss", "Rss"):
            fields[name] = int(value.split()[0]) / 1024
    return fields["Pss"], fields["Rss"]


# One client IP (127.0.0.1) makes every request in these tests: the per-IP budgets are kept out of
# the way; the per-account and per-address limits stay as shipped.
PER_IP_RATE_LIMITS = ",".join(
    f"{scope}=100000/60"
    for scope in (
        "login_ip",
        "signup_ip",
        "password_reset_ip",
        "password_reset_confirm_ip",
        "token_failures_ip",
        "verify_email_ip",
        "resend_email_ip",
    )
)


@dataclass
class Services:
    """What gunicorn needs, running: PostgreSQL (one database), Redis, SMTP; and its environment."""

    postgres: PostgresCluster
    redis: RedisServer
    smtp: SmtpPeer
    database_url: str
    env: dict[str, str]
    worker: TaskWorker | None


def stop_quietly(stop: Any) -> None:
    try:
        stop()
    except Exception as error:  # keep stopping the others
        print(f"teardown: {error!r}")


@contextmanager
def services(home: str, *, worker: bool = True) -> Iterator[Services]:
    """Start a throwaway PostgreSQL, Redis and SMTP peer; stop and remove them all on exit.

    With `worker`, the database is migrated and a task worker delivers the mail, as in
    production (`make serve` beside `make worker`).
    """
    with ExitStack() as stop:
        postgres = PostgresCluster()
        stop.callback(stop_quietly, postgres.remove)
        postgres.start()
        stop.callback(stop_quietly, postgres.stop)
        redis = RedisServer()
        redis.start()
        stop.callback(stop_quietly, redis.stop)
        smtp = SmtpPeer()
        smtp.controller.start()
        stop.callback(stop_quietly, smtp.controller.stop)
        database_url = postgres.create_database("blogapi")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": home,
            "DJANGO_SETTINGS_MODULE": "blogapi.settings",
            "DJANGO_SECRET_KEY": "system-test-secret-key-0123456789-0123456789-0123456789",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_SECURE_COOKIES": "false",
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
            "EMAIL_TIMEOUT": "2",
            "SITE_URL": "http://127.0.0.1",
            "RATE_LIMITS": PER_IP_RATE_LIMITS,
            # Passkeys on (an IP address cannot be their relying party): fuzzed like the rest.
            "AUTH_WEBAUTHN_RP_ID": "localhost",
            "AUTH_WEBAUTHN_ORIGINS": "http://localhost",
            # The system tests' mail must not wait 30 s for a retry.
            "MAIL_RETRY_FIRST_DELAY": "1",
        }
        task_worker = None
        if worker:
            manage(env, "migrate", "--noinput")
            task_worker = TaskWorker(env, postgres.root / "worker.log")
            task_worker.start()
            stop.callback(stop_quietly, task_worker.stop)
        yield Services(postgres, redis, smtp, database_url, env, task_worker)


def registration(url: str, username: str, password: str) -> dict[str, Any]:
    """Sign `username` (address username@example.com) up through the JSON API; the answer."""
    response = requests.post(
        f"{url}/api/v1/dj-rest-auth/registration/",
        json={
            "username": username,
            "email": f"{username}@example.com",
            "password1": password,
            "password2": password,
        },
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def register(url: str, username: str, password: str) -> str:
    """Sign `username` up (token mode); its new key."""
    return str(registration(url, username, password)["key"])


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )
