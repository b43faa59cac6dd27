"""JWT mode on two gunicorn servers sharing PostgreSQL and Redis: one truth about every family."""

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from blogapi.core.tests.processes import (
    AppServer,
    manage,
    registration,
    require_tools,
    services,
    stop_quietly,
    unique_name,
)

pytestmark = pytest.mark.system

_required_tools = require_tools()

PASSWORD = "correct horse battery staple"
JWT_ENV = {
    "AUTH_JWT": "true",
    "AUTH_JWT_SIGNING_KEY": "system-test-only-jwt-signing-key-0123456789",
    "AUTH_JWT_REUSE_GRACE": "1",
}


@dataclass
class Servers:
    a: AppServer
    b: AppServer


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    root = tmp_path_factory.mktemp("system-jwt")
    with services(os.environ.get("HOME", str(root))) as running:
        env = {**running.env, **JWT_ENV}
        manage(env, "migrate", "--noinput")
        a, b = AppServer(env, root / "a.log"), AppServer(env, root / "b.log")
        try:
            a.start()
            b.start()
            yield Servers(a, b)
        finally:
            stop_quietly(a.stop)
            stop_quietly(b.stop)


def sign_up(server: AppServer) -> dict[str, Any]:
    return registration(server.url, unique_name("jo"), PASSWORD)


def status_with(server: AppServer, access: str) -> int:
    response = requests.get(
        f"{server.url}/api/v1/dj-rest-auth/user/",
        headers={"Authorization": f"Bearer {access}"},
        timeout=30,
    )
    return response.status_code


def refresh(server: AppServer, token: str) -> requests.Response:
    return requests.post(
        f"{server.url}/api/v1/dj-rest-auth/token/refresh/", json={"refresh": token}, timeout=30
    )


def test_of_simultaneous_refreshes_on_two_servers_exactly_one_wins(servers: Servers) -> None:
    token = sign_up(servers.a)["refresh"]
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def one(server: AppServer) -> None:
        barrier.wait()
        statuses.append(refresh(server, token).status_code)

    threads = [threading.Thread(target=one, args=(s,)) for s in (servers.a, servers.b) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [200] + [401] * 7


def test_a_logout_on_one_server_refuses_the_access_token_on_the_other(servers: Servers) -> None:
    signed_in = sign_up(servers.a)
    assert status_with(servers.b, signed_in["access"]) == 200  # now cached by B's lookup

    logout = requests.post(
        f"{servers.b.url}/api/v1/dj-rest-auth/logout/",
        headers={"Authorization": f"Bearer {signed_in['access']}"},
        timeout=30,
    )

    assert logout.status_code == 200
    assert status_with(servers.a, signed_in["access"]) == 401
    assert refresh(servers.a, signed_in["refresh"]).status_code == 401


def test_a_reuse_on_one_server_ends_the_family_on_the_other(servers: Servers) -> None:
    first = sign_up(servers.a)
    second = refresh(servers.a, first["refresh"]).json()
    assert status_with(servers.b, second["access"]) == 200

    threading.Event().wait(1.5)  # past AUTH_JWT_REUSE_GRACE (1 s)
    assert refresh(servers.b, first["refresh"]).status_code == 401

    assert status_with(servers.a, second["access"]) == 401
    assert refresh(servers.a, second["refresh"]).status_code == 401
