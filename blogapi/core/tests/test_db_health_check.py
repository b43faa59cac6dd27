"""PostgreSQL connections are reused without `SELECT 1` while idle, replaced once ended."""

import select
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import close_old_connections, connection, connections
from rest_framework.test import APIClient

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL only (make pytest-postgres)"
    ),
]


@pytest.fixture
def real_checks(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each answer of Django's own check (`SELECT 1`), recorded."""
    answers: list[bool] = []
    original: Callable[[], bool] = connection.is_usable

    def recording() -> bool:
        answers.append(original())
        return answers[-1]

    monkeypatch.setattr(connection, "is_usable", recording)
    return answers


def next_request(client: APIClient) -> Any:
    """What a server does between two requests (the test client skips it), then the request."""
    close_old_connections()
    return client.get("/api/v1/users/")  # never answered from a cache


def backend_pid() -> int:
    connection.ensure_connection()
    return int(connection.connection.info.backend_pid)


def terminate(pid: int) -> None:
    """End the server side of the connection, as a restart or an idle timeout would."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    poller = select.poll()
    poller.register(connection.connection.pgconn.socket, select.POLLIN)
    deadline = time.monotonic() + 10
    while not poller.poll(100):
        assert time.monotonic() < deadline, "the server never closed the connection"


def test_the_backend_is_ours_with_health_checks_on() -> None:
    assert settings.DATABASES["default"]["ENGINE"] == "blogapi.core.postgresql"
    assert type(connections["default"]).__module__ == "blogapi.core.postgresql.base"
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True


def test_an_idle_connection_is_reused_without_a_round_trip(
    alice_client: APIClient, real_checks: list[bool]
) -> None:
    assert next_request(alice_client).status_code == 200
    pid = backend_pid()

    for _ in range(3):
        assert next_request(alice_client).status_code == 200

    assert real_checks == []
    assert backend_pid() == pid


def test_a_connection_the_server_ended_is_replaced_before_the_request_uses_it(
    alice_client: APIClient, real_checks: list[bool]
) -> None:
    assert next_request(alice_client).status_code == 200
    pid = backend_pid()

    terminate(pid)
    response = next_request(alice_client)

    assert response.status_code == 200, response.content
    assert real_checks == [False]
    assert backend_pid() != pid


def test_a_connection_left_inside_a_transaction_gets_the_real_check(
    alice_client: APIClient, real_checks: list[bool]
) -> None:
    assert next_request(alice_client).status_code == 200
    connection.connection.execute("BEGIN")
    close_old_connections()
    try:
        connection.close_if_health_check_failed()
    finally:
        connection.connection.execute("ROLLBACK")

    assert real_checks == [True]
