"""Django's PostgreSQL backend, with a health check that asks the socket before the server."""

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    """Skips `SELECT 1` before reusing a connection whose socket shows nothing has happened.

    Why not Django's check alone: with CONN_HEALTH_CHECKS it sends `SELECT 1` before the first
    query of every request, a third round trip for a token-authenticated read (~15 % of its
    throughput, docs/benchmarks.md). A server that ends a connection (restart, crash,
    pg_terminate_backend, idle timeouts, a pooler closing it) says so on the socket: a FATAL
    message or end of file makes it readable. An idle connection we may reuse receives nothing,
    so a readable or failed socket sends the connection to Django's real check, which closes it
    and lets the request open a new one. What neither check can see quickly is a peer that
    vanished without a word (a dead host, a silent firewall); `SELECT 1` would wait for TCP too.
    """

    # Set by Django's BaseDatabaseWrapper; django-stubs does not declare them.
    health_check_enabled: bool
    health_check_done: bool

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and self._socket_is_quiet()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _socket_is_quiet(self) -> bool:
        """True if the idle connection is open and nothing has arrived on it since its last use."""
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        pgconn = connection.pgconn
        if (
            pgconn.status != pq.ConnStatus.OK
            or pgconn.transaction_status != pq.TransactionStatus.IDLE
        ):
            return False
        try:
            poller = select.poll()
            poller.register(pgconn.socket, select.POLLIN | select.POLLPRI)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False
