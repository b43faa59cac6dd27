"""Early refusals reach a client that stops sending its body, under `make run` and `make serve`.

HTTP/1.1 (RFC 9112) asks a client that sees an error response while it sends a body to stop. The
client here sends headers, then the body in chunks, looks for an answer after each chunk and stops
at the first one: the answer must be complete at once (its length says where it ends), not when
the client's own timeout fires.
"""

import contextlib
import http.client
import json
import os
import secrets
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from blogapi.core.tests.processes import AppServer, DevServer, manage, stop_quietly

pytestmark = pytest.mark.system

MIB = 1024 * 1024
CHUNK = 64 * 1024
LOGIN = "/api/v1/dj-rest-auth/login/"
# Far below the wait of a client's timeout: the answer ends when its last byte arrives.
ANSWER_WITHIN_SECONDS = 5.0
SERVERS = ["make run", "make serve"]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, DevServer | AppServer]]:
    """runserver as `make run` starts it and gunicorn as `make serve` does, each on its SQLite."""
    root = tmp_path_factory.mktemp("early")
    base = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(root),
        "DJANGO_SETTINGS_MODULE": "blogapi.settings",
    }
    dev = DevServer({**base, "DATABASE_URL": f"sqlite:///{root / 'run.sqlite3'}"}, root / "run.log")
    production = {
        **base,
        "DATABASE_URL": f"sqlite:///{root / 'serve.sqlite3'}",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "EMAIL_URL": "dummymail://",
    }
    manage(production, "migrate", "--noinput")
    app = AppServer(production, root / "serve.log", workers=1)
    try:
        dev.start()
        app.start()
        yield {"make run": dev, "make serve": app}
    finally:
        stop_quietly(dev.stop)
        stop_quietly(app.stop)


@dataclass
class Answer:
    """The first answer, read as the client reads it: status line, headers, then its length."""

    sent: int  # body bytes sent when the answer arrived
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    seconds: float  # from the request's headers to the answer's last byte


def read_answer(sock: socket.socket) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One answer from `sock`, read to its Content-Length: never waits for the server to close."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    length = response.getheader("Content-Length")
    assert length is not None, (
        f"{response.status} without Content-Length (headers: {dict(response.headers)}): "
        "the client cannot tell where it ends and waits for the server to close"
    )
    body = response.read(int(length))
    assert len(body) == int(length)
    return response.status, response.headers, body


@contextlib.contextmanager
def refused(
    server: DevServer | AppServer, *, content_type: str, length: str, body_size: int
) -> Iterator[tuple[socket.socket, Answer]]:
    """POST `body_size` bytes declared as `length`, in chunks, until the first answer arrives."""
    sock = socket.socket()
    # A small send buffer: the kernel may not take the whole body ahead of the server, so `sent`
    # counts what really left (loopback autotuning would otherwise take ~4 MB at once).
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHUNK)
    sock.connect(("127.0.0.1", server.port))
    try:
        head = (
            f"POST {LOGIN} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
        )
        sock.sendall(head.encode("latin-1"))
        started, sent = time.monotonic(), 0
        sock.setblocking(False)
        while sent < body_size:
            remaining = started + ANSWER_WITHIN_SECONDS - time.monotonic()
            readable, writable, _ = select.select([sock], [sock], [], max(remaining, 0))
            if readable:
                break  # an answer: stop sending, as HTTP/1.1 asks
            assert writable, f"neither an answer nor room to send after {sent} bytes"
            try:
                sent += sock.send(b"x" * min(CHUNK, body_size - sent))
            except (BrokenPipeError, ConnectionResetError):
                break  # the server closed its side: its answer is waiting
            if select.select([sock], [], [], 0.01)[0]:
                break
        assert sent < body_size, "no answer before the whole body was sent"
        sock.settimeout(ANSWER_WITHIN_SECONDS)
        status, headers, body = read_answer(sock)
        yield sock, Answer(sent, status, headers, body, time.monotonic() - started)
    finally:
        sock.close()


def assert_answered_early(answer: Answer, body_size: int) -> None:
    # Flow control alone lets ~160 KiB through before a server that reads nothing answers.
    assert answer.sent <= body_size // 4, answer.sent
    assert answer.seconds < ANSWER_WITHIN_SECONDS
    assert int(answer.headers["Content-Length"]) == len(answer.body)


def assert_closed_by_server(sock: socket.socket) -> None:
    """The server ends the connection after its answer, without waiting for the rest."""
    # Closed with unread body bytes in its buffer, the server's kernel may reset: after the answer.
    with contextlib.suppress(ConnectionResetError):
        assert sock.recv(1) == b""


def assert_still_usable(sock: socket.socket, rest: int, port: int) -> None:
    """The server reads and drops the rest of the declared body, then answers the next request."""
    sock.sendall(b"x" * rest)
    sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    status, _, body = read_answer(sock)
    assert (status, json.loads(body)) == (200, {"status": "ok"})


@pytest.mark.parametrize("server_name", SERVERS)
@pytest.mark.parametrize(
    ("content_type", "body_size", "status", "detail"),
    [
        ("application/json", 5 * MIB, 413, "Request body too large: the limit is 1048576 bytes."),
        ("text/plain", MIB, 415, 'Unsupported media type "text/plain" in request.'),
        ("application/json; charset*=BOGUS''utf-8", MIB, 400, "Unusable charset in Content-Type."),
    ],
    ids=["too-large", "wrong-content-type", "malformed-content-type"],
)
def test_an_early_refusal_reaches_a_client_that_stops_sending(
    servers: dict[str, DevServer | AppServer],
    server_name: str,
    content_type: str,
    body_size: int,
    status: int,
    detail: str,
) -> None:
    server = servers[server_name]

    with refused(server, content_type=content_type, length=str(body_size), body_size=body_size) as (
        sock,
        answer,
    ):
        assert answer.status == status
        assert answer.headers["Content-Type"] == "application/json"
        assert json.loads(answer.body) == {"detail": detail}
        assert_answered_early(answer, body_size)
        if server_name == "make serve":
            # gunicorn's sync worker reads no more of the body: it says so, and closes.
            assert answer.headers["Connection"] == "close"
            assert_closed_by_server(sock)
        else:
            # Django's dev server reads and drops the rest of a declared body after every answer
            # (its ServerHandler), so it keeps the connection, and says nothing of closing.
            assert answer.headers["Connection"] is None
            assert_still_usable(sock, body_size - answer.sent, server.port)


@pytest.mark.parametrize("server_name", SERVERS)
def test_a_malformed_content_length_is_refused_at_once(
    servers: dict[str, DevServer | AppServer], server_name: str
) -> None:
    body_size = 5 * MIB

    with refused(
        servers[server_name], content_type="application/json", length="12 34", body_size=body_size
    ) as (sock, answer):
        assert answer.status == 400
        assert_answered_early(answer, body_size)
        if server_name == "make serve":
            # gunicorn refuses the framing itself, before the app runs: its own page, then close.
            assert answer.headers["Content-Type"] == "text/html"
            assert b"CONTENT-LENGTH" in answer.body
            assert answer.headers["Connection"] == "close"
            assert_closed_by_server(sock)
        else:
            assert answer.headers["Content-Type"] == "application/json"
            assert json.loads(answer.body) == {"detail": "Invalid Content-Length header."}
