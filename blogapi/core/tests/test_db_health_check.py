"""PostgreSQL connections are reused across requests and replaced once the server ended them."""

import select
import time
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import close_old_connections, connection
from rest_framework.test import APIClient

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL only (make pytest-postgres)"
    ),
]


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


def test_django_s_backend_with_persistent_connections_and_health_checks() -> None:
    database = settings.DATABASES["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["CONN_MAX_AGE"] > 0
    assert database["CONN_HEALTH_CHECKS"] is True


def test_a_connection_is_reused_across_requests(alice_client: APIClient) -> None:
    assert next_request(alice_client).status_code == 200
    pid = backend_pid()

    for _ in range(3):
        assert next_request(alice_client).status_code == 200

    assert backend_pid() == pid


def test_a_connection_the_server_ended_is_replaced_before_the_request_uses_it(
    alice_client: APIClient,
) -> None:
    assert next_request(alice_client).status_code == 200
    pid = backend_pid()

    terminate(pid)
    response = next_request(alice_client)

    assert response.status_code == 200, response.content
    assert backend_pid() != pid
