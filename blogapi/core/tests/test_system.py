"""Several gunicorn servers on one PostgreSQL and one Redis, over HTTP; then faults survived.

Real processes on loopback ports (see processes.py); every wait and load loop is bounded.
"""

import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import requests

from blogapi.core.tests.processes import (
    AppServer,
    PostgresCluster,
    RedisServer,
    SmtpPeer,
    manage,
    register,
    require_tools,
    services,
    stop_quietly,
    unique_name,
    wait_for,
)

pytestmark = pytest.mark.system

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new passphrase"
CREDENTIAL_CACHE_TTL = 15  # seconds

_required_tools = require_tools()


@dataclass
class Stack:
    postgres: PostgresCluster
    redis: RedisServer
    smtp: SmtpPeer
    database_url: str
    a: AppServer
    b: AppServer


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("system")
    with services(os.environ.get("HOME", str(tmp_path_factory.getbasetemp()))) as running:
        manage(running.env, "migrate", "--noinput")
        # Cached tokens outlive Redis's 2 s timeouts, so that an outage can end within an epoch.
        env = {**running.env, "AUTH_CREDENTIAL_CACHE_TTL": str(CREDENTIAL_CACHE_TTL)}
        a, b = AppServer(env, root / "a.log"), AppServer(env, root / "b.log")
        try:
            a.start()
            b.start()
            yield Stack(running.postgres, running.redis, running.smtp, running.database_url, a, b)
        finally:
            stop_quietly(a.stop)
            stop_quietly(b.stop)


def login(server: AppServer, username: str, password: str = PASSWORD) -> requests.Response:
    return requests.post(
        f"{server.url}/api/v1/dj-rest-auth/login/",
        json={"username": username, "password": password},
        timeout=30,
    )


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Token {key}"}


def status_with(server: AppServer, key: str) -> int:
    return requests.get(f"{server.url}/api/v1/", headers=auth(key), timeout=30).status_code


# --- Several servers, one truth ----------------------------------------------------------------


def test_a_key_issued_by_one_server_works_on_the_other(stack: Stack) -> None:
    key = register(stack.a.url, unique_name("carol"), PASSWORD)

    assert status_with(stack.b, key) == 200


def test_logout_on_one_server_is_refused_by_the_other(stack: Stack) -> None:
    key = register(stack.a.url, unique_name("dave"), PASSWORD)

    assert (
        requests.post(
            f"{stack.b.url}/api/v1/dj-rest-auth/logout/", headers=auth(key), timeout=30
        ).status_code
        == 200
    )
    assert status_with(stack.a, key) == 401


def test_revoking_a_key_on_one_server_is_refused_by_the_other(stack: Stack) -> None:
    name = unique_name("erin")
    phone = register(stack.a.url, name, PASSWORD)
    laptop = login(stack.a, name).json()["key"]
    listed = requests.get(
        f"{stack.b.url}/api/v1/dj-rest-auth/tokens/", headers=auth(phone), timeout=30
    ).json()
    laptop_id = next(c["id"] for c in listed if not c["current"])

    revoke = requests.delete(
        f"{stack.b.url}/api/v1/dj-rest-auth/tokens/{laptop_id}/", headers=auth(phone), timeout=30
    )

    assert revoke.status_code == 204
    assert status_with(stack.a, laptop) == 401
    assert status_with(stack.a, phone) == 200


def test_logout_all_on_one_server_is_refused_by_the_other(stack: Stack) -> None:
    name = unique_name("frank")
    first = register(stack.a.url, name, PASSWORD)
    second = login(stack.a, name).json()["key"]

    assert (
        requests.post(
            f"{stack.b.url}/api/v1/dj-rest-auth/logout-all/", headers=auth(second), timeout=30
        ).status_code
        == 200
    )
    assert status_with(stack.a, first) == 401
    assert status_with(stack.a, second) == 401


def test_a_password_change_on_one_server_ends_other_keys_on_the_other(stack: Stack) -> None:
    name = unique_name("grace")
    changer = register(stack.a.url, name, PASSWORD)
    other = login(stack.a, name).json()["key"]

    change = requests.post(
        f"{stack.b.url}/api/v1/dj-rest-auth/password/change/",
        headers=auth(changer),
        json={
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        timeout=30,
    )

    assert change.status_code == 200, change.text
    assert status_with(stack.a, other) == 401
    assert status_with(stack.a, changer) == 200


def test_a_browser_session_from_one_server_is_valid_on_the_other(stack: Stack) -> None:
    name = unique_name("heidi")
    register(stack.a.url, name, PASSWORD)
    browser = requests.Session()
    page = browser.get(f"{stack.a.url}/api-auth/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token

    signed_in = browser.post(
        f"{stack.a.url}/api-auth/login/",
        data={"username": name, "password": PASSWORD, "csrfmiddlewaretoken": token[1]},
        allow_redirects=False,
        timeout=30,
    )

    assert signed_in.status_code == 302
    me = browser.get(f"{stack.b.url}/api/v1/dj-rest-auth/user/", timeout=30)
    assert me.status_code == 200
    assert me.json()["username"] == name


def test_the_login_limit_counts_attempts_on_both_servers_together(stack: Stack) -> None:
    name = unique_name("ivan")
    register(stack.a.url, name, PASSWORD)
    for server in (stack.a, stack.b, stack.a, stack.b, stack.a):
        assert login(server, name, "not the right password").status_code == 400

    locked = login(stack.b, name)

    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0


def test_a_reset_link_mailed_by_one_server_works_once_on_the_other(stack: Stack) -> None:
    name = unique_name("judy")
    register(stack.a.url, name, PASSWORD)
    requests.post(
        f"{stack.a.url}/api/v1/dj-rest-auth/password/reset/",
        json={"email": f"{name}@example.com"},
        timeout=30,
    )
    body = stack.smtp.body_to(f"{name}@example.com", count=2)  # confirmation, then reset
    link = re.search(r"/confirm/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/", body)
    assert link, body
    confirm = {
        "uid": link["uid"],
        "token": link["token"],
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }

    first = requests.post(
        f"{stack.b.url}/api/v1/dj-rest-auth/password/reset/confirm/", json=confirm, timeout=30
    )
    again = requests.post(
        f"{stack.a.url}/api/v1/dj-rest-auth/password/reset/confirm/", json=confirm, timeout=30
    )

    assert first.status_code == 200, first.text
    assert again.status_code == 400
    assert login(stack.a, name, NEW_PASSWORD).status_code == 200


# --- Faults --------------------------------------------------------------------------------------


def load(
    stop: threading.Event, fn: Any, results: list[Any], *, threads: int = 4, limit: float = 30
) -> list[threading.Thread]:
    """Run fn(i) in a loop on several threads until `stop` is set (or `limit` seconds pass)."""
    deadline = time.monotonic() + limit

    def run(worker: int) -> None:
        i = 0
        while not stop.is_set() and time.monotonic() < deadline:
            results.append(fn(f"{worker}-{i}"))
            i += 1

    started = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(threads)]
    for thread in started:
        thread.start()
    return started


def test_a_worker_killed_mid_write_loses_no_acknowledged_row_and_writes_none_twice(
    stack: Stack,
) -> None:
    key = register(stack.a.url, unique_name("kim"), PASSWORD)
    marker = f"kill-{time.time_ns()}"
    results: list[tuple[str, int, Any]] = []

    def create(suffix: str) -> tuple[str, int, Any]:
        title = f"{marker}-{suffix}"[:50]
        try:
            response = requests.post(
                f"{stack.a.url}/api/v1/",
                headers=auth(key),
                json={"title": title, "body": "b"},
                timeout=30,
            )
            return title, response.status_code, response.json().get("id")
        except (requests.ConnectionError, ValueError):
            return title, 0, None

    stop = threading.Event()
    threads = load(stop, create, results)
    time.sleep(1.5)
    victims = stack.a.worker_pids()
    assert victims
    os.kill(victims[0], 9)
    time.sleep(1.5)
    stop.set()
    for thread in threads:
        thread.join(timeout=40)

    acknowledged = {title: pk for title, status, pk in results if status == 201}
    assert len(acknowledged) > 10
    assert all(status in (0, 201) for _, status, _ in results), results
    with psycopg.connect(stack.database_url) as connection:
        rows = connection.execute(
            "SELECT title, id FROM posts_post WHERE title LIKE %s", (f"{marker}-%",)
        ).fetchall()
    titles = [title for title, _ in rows]
    assert len(titles) == len(set(titles)), "a post was written twice"
    stored: dict[str, int] = dict(rows)
    assert all(stored.get(title) == pk for title, pk in acknowledged.items())
    assert status_with(stack.a, key) == 200  # the master replaced the worker


def test_a_database_outage_answers_503_and_recovers_without_restart(stack: Stack) -> None:
    key = register(stack.a.url, unique_name("lee"), PASSWORD)
    results: list[tuple[int, float, str]] = []

    def read(_: str) -> tuple[int, float, str]:
        server = stack.a if len(results) % 2 else stack.b
        start = time.monotonic()
        try:
            # Users, not posts: a post read can be answered from Redis without the database.
            response = requests.get(f"{server.url}/api/v1/users/", headers=auth(key), timeout=30)
            return (
                response.status_code,
                time.monotonic() - start,
                response.headers.get("Content-Type", ""),
            )
        except requests.ConnectionError:
            return 0, time.monotonic() - start, ""

    stop = threading.Event()
    threads = load(stop, read, results, threads=3)
    time.sleep(1)
    stack.postgres.stop()
    time.sleep(3)
    during = len(results)
    stack.postgres.start()
    wait_for(lambda: status_with(stack.a, key) == 200, 30, "recovery on A")
    wait_for(lambda: status_with(stack.b, key) == 200, 30, "recovery on B")
    stop.set()
    for thread in threads:
        thread.join(timeout=40)

    statuses = {status for status, _, _ in results}
    assert 503 in statuses, statuses
    assert statuses <= {200, 503}, statuses
    assert all(kind.startswith("application/json") for status, _, kind in results if status == 503)
    assert max(elapsed for _, elapsed, _ in results) < 15, "a request hung past the timeout"
    assert during > 0


def test_after_a_database_restart_no_request_fails(stack: Stack) -> None:
    """Every worker's kept connection died with the restart; each is replaced before use."""
    key = register(stack.a.url, unique_name("ned"), PASSWORD)
    for _ in range(8):
        assert status_with(stack.a, key) == 200
        assert status_with(stack.b, key) == 200

    stack.postgres.stop()
    stack.postgres.start()

    statuses = [status_with(server, key) for _ in range(12) for server in (stack.a, stack.b)]
    assert statuses == [200] * len(statuses)


def test_with_redis_stopped_reads_work_and_logins_fail_closed(stack: Stack) -> None:
    name = unique_name("mia")
    key = register(stack.a.url, name, PASSWORD)

    stack.redis.stop()
    try:
        assert status_with(stack.a, key) == 200
        assert status_with(stack.b, key) == 200
        refused = login(stack.a, name)
        assert refused.status_code in (429, 503)
        assert refused.headers["Content-Type"].startswith("application/json")
    finally:
        stack.redis.start()

    wait_for(lambda: login(stack.b, name).status_code == 200, 20, "login after Redis returns")
    assert status_with(stack.a, key) == 200


def test_a_logout_while_redis_is_unreachable_stays_in_force_when_redis_returns(
    stack: Stack,
) -> None:
    key = register(stack.a.url, unique_name("oona"), PASSWORD)
    redis.Redis(port=stack.redis.port).flushdb()  # the next lookup starts a cache epoch
    assert status_with(stack.a, key) == 200
    epoch_started = time.monotonic()
    assert status_with(stack.b, key) == 200  # both servers' lookups now cached in Redis

    # Paused rather than stopped: Redis comes back holding the cached entry nobody could delete.
    stack.redis.pause()
    try:
        logout = requests.post(
            f"{stack.a.url}/api/v1/dj-rest-auth/logout/", headers=auth(key), timeout=60
        )
        assert logout.status_code == 200, logout.text
        # The logout answered only once the epoch of the cached entry was over.
        assert time.monotonic() - epoch_started > CREDENTIAL_CACHE_TTL
        # The database refuses the key meanwhile; the failure cannot be charged to the caller's
        # budget in Redis, and the limiter fails closed: 503 rather than 401.
        assert status_with(stack.b, key) in (401, 503)
    finally:
        stack.redis.resume()

    assert [status_with(server, key) for server in (stack.a, stack.b) * 3] == [401] * 6


def test_servers_logs_hold_no_secrets(stack: Stack) -> None:
    key = register(stack.a.url, unique_name("nia"), PASSWORD)
    status_with(stack.b, key)

    logs = Path(stack.a.log).read_text() + Path(stack.b.log).read_text()

    assert key.removeprefix("blogapi_")[:12] not in logs
    assert PASSWORD not in logs
