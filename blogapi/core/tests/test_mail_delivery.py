"""Real SMTP (aiosmtpd): a refusing or hanging server fails no request and loses no mail.

The requests enqueue; the task worker (django-tasks-db's db_worker, run here in-process until
no task is due) delivers, retries and gives up. test_mail_system.py kills real processes.
Also an e-mail change end to end: the link read from the mail the peer received, the notices.
"""

import asyncio
import email
import email.policy
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from blogapi.core.models import OutgoingMail
from blogapi.core.tests.processes import free_port
from blogapi.core.tests.tasks import TASK_BACKEND, ready, run_worker
from conftest import PASSWORD

REGISTER = "/api/v1/dj-rest-auth/registration/"
VERIFY = "/api/v1/dj-rest-auth/registration/verify-email/"
RESEND = "/api/v1/dj-rest-auth/registration/resend-email/"
RESET = "/api/v1/dj-rest-auth/password/reset/"
RESET_CONFIRM = "/api/v1/dj-rest-auth/password/reset/confirm/"
LOGIN = "/api/v1/dj-rest-auth/login/"
EMAIL = "/api/v1/dj-rest-auth/email/"
CONFIRM_LINK = r"https?://\S+/registration/account-confirm-email/(?P<key>[^/\s]+)/"
RESET_LINK = r"https?://\S+/password/reset/confirm/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/"
RESET_SENT = {"detail": "Password reset e-mail has been sent."}
TIMEOUT = 2  # EMAIL_TIMEOUT here, seconds
LOGGER = "blogapi.core.mail"

pytestmark = pytest.mark.django_db(transaction=True)


class Inbox:
    """aiosmtpd handler keeping (recipients, text body); the first `stall` DATA answer too late."""

    def __init__(self, stall: int = 0) -> None:
        self.mails: list[tuple[list[str], str]] = []
        self.stall = stall
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.stall:
            self.stall -= 1
            await asyncio.sleep(TIMEOUT + 1)  # the sender has given up on this attempt by now
            return "451 4.3.0 Try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        with self.arrived:
            self.mails.append((list(envelope.rcpt_tos), body))
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 10) -> list[tuple[list[str], str]]:
        with self.arrived:
            arrived = self.arrived.wait_for(lambda: len(self.mails) >= count, timeout)
        assert arrived, f"{len(self.mails)} of {count} mails arrived within {timeout} s"
        return self.mails


class Refuser:
    """aiosmtpd handler refusing every message for now: at RCPT, naming the address, or at DATA."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.bodies: list[str] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.stage == "rcpt":
            return f"450 4.2.0 <{address}>: Recipient address rejected: try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.bodies.append(envelope.content.decode())
        return "451 4.3.0 Try again later"


class HangingServer:
    """Accepts TCP connections and never says a word: an SMTP server that hangs."""

    def __init__(self, port: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        self.listener.settimeout(0.05)
        self.connections: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                self.connections.append(self.listener.accept()[0])
            except TimeoutError:
                continue

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        for connection in [*self.connections, self.listener]:
            connection.close()


class SmtpPeer:
    """Whatever listens on EMAIL_PORT: nothing (refused), a hanging server, or aiosmtpd."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.running: Controller | HangingServer | None = None

    def serve(self, handler: Any) -> Any:
        self.stop()
        controller = Controller(handler, hostname="127.0.0.1", port=self.port)
        controller.start()
        self.running = controller
        return handler

    def hang(self) -> None:
        self.stop()
        self.running = HangingServer(self.port)

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()
            self.running = None


@pytest.fixture
def peer(settings: Any) -> Iterator[SmtpPeer]:
    """Real SMTP delivery to 127.0.0.1 with fast retries; nothing listens until a test says so."""
    settings.EMAIL_BACKEND = TASK_BACKEND
    settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    settings.EMAIL_TIMEOUT, settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL = TIMEOUT, False, False
    settings.MAIL_RETRY_FIRST_DELAY = timedelta(seconds=0.5)
    smtp = SmtpPeer(settings.EMAIL_PORT)
    try:
        yield smtp
    finally:
        smtp.stop()


def work_until(done: Any, timeout: float) -> None:
    """Run the worker until `done()` (retries come due as time passes) or fail at `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        run_worker()
        if done():
            return
        if time.monotonic() > deadline:
            pytest.fail(f"not done within {timeout} s")
        time.sleep(0.05)


def all_finished() -> bool:
    """No mail task waits (not even a retry due later), and every mail was sent or given up."""
    return (
        not ready()
        and not OutgoingMail.objects.exclude(
            status__in=[OutgoingMail.Status.SENT, OutgoingMail.Status.FAILED]
        ).exists()
    )


@pytest.fixture(autouse=True)
def _mail_warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)


def register(client: APIClient, username: str) -> Any:
    data = {"username": username, "email": f"{username}@example.com"}
    return client.post(REGISTER, {**data, "password1": PASSWORD, "password2": PASSWORD})


def timed(call: Any) -> tuple[Any, float]:
    start = time.monotonic()
    response = call()
    return response, time.monotonic() - start


def mail_records(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[Any]:
    return [r for r in list(caplog.records) if r.name == LOGGER and r.levelno >= level]


def first_failure(caplog: pytest.LogCaptureFixture, timeout: float) -> logging.LogRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if records := mail_records(caplog):
            return records[0]
        time.sleep(0.02)
    pytest.fail(f"no failed delivery logged within {timeout} s")


def link(pattern: str, *bodies: str) -> re.Match[str]:
    """The link matching `pattern` in whichever body has one (retries may reorder mails)."""
    matches = [match for body in bodies if (match := re.search(pattern, body))]
    assert len(matches) == 1, f"{len(matches)} links matching {pattern!r} in:\n{bodies}"
    return matches[0]


def test_mail_arrives_through_a_healthy_smtp_server_with_working_links(
    api_client: APIClient, peer: SmtpPeer, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = peer.serve(Inbox())

    assert register(api_client, "carol").status_code == 201
    run_worker()
    [(to, body)] = inbox.wait_for(1)
    assert to == ["carol@example.com"]
    key = link(CONFIRM_LINK, body)["key"]
    assert api_client.get(link(CONFIRM_LINK, body)[0]).status_code == 200
    assert api_client.post(VERIFY, {"key": key}).status_code == 200
    assert EmailAddress.objects.get(email="carol@example.com").verified

    assert api_client.post(RESET, {"email": "carol@example.com"}).status_code == 200
    run_worker()
    (to, body) = inbox.wait_for(2)[1]
    assert to == ["carol@example.com"]
    reset = link(RESET_LINK, body)
    new_password = "another horse battery staple"
    confirm = {"uid": reset["uid"], "token": reset["token"]}
    confirm |= {"new_password1": new_password, "new_password2": new_password}
    assert api_client.post(RESET_CONFIRM, confirm).status_code == 200
    assert User.objects.get(username="carol").check_password(new_password)
    run_worker()  # the password-reset notice
    assert len(inbox.wait_for(3)) == 3
    assert all_finished()
    assert not mail_records(caplog)


def test_requests_answer_at_once_while_smtp_refuses_and_the_retry_delivers(
    api_client: APIClient, peer: SmtpPeer, caplog: pytest.LogCaptureFixture
) -> None:
    signup, signup_took = timed(lambda: register(api_client, "carol"))
    reset, reset_took = timed(lambda: api_client.post(RESET, {"email": "carol@example.com"}))

    assert signup.status_code == 201
    assert User.objects.filter(username="carol").exists()
    assert (reset.status_code, reset.json()) == (200, RESET_SENT)
    assert signup_took < TIMEOUT
    assert reset_took < TIMEOUT
    run_worker()
    assert "ConnectionRefusedError" in first_failure(caplog, timeout=5).getMessage()
    assert len(ready()) == 2  # both retries scheduled

    inbox = peer.serve(Inbox())

    work_until(all_finished, timeout=10)
    mails = inbox.wait_for(2)
    assert [to for to, _ in mails] == [["carol@example.com"]] * 2
    link(CONFIRM_LINK, *[body for _, body in mails])
    link(RESET_LINK, *[body for _, body in mails])
    assert not mail_records(caplog, logging.ERROR)


def test_a_hanging_smtp_server_costs_one_timeout_per_attempt_and_the_retry_delivers(
    api_client: APIClient, peer: SmtpPeer, caplog: pytest.LogCaptureFixture
) -> None:
    peer.hang()

    handed_over = time.time()
    signup, took = timed(lambda: register(api_client, "carol"))

    assert signup.status_code == 201
    assert took < TIMEOUT
    assert User.objects.filter(username="carol").exists()
    run_worker()
    failure = first_failure(caplog, timeout=1)
    # Neither an instant refusal nor forever: the attempt waited about EMAIL_TIMEOUT.
    assert TIMEOUT * 0.8 <= failure.created - handed_over < TIMEOUT + 3

    inbox = peer.serve(Inbox())

    work_until(all_finished, timeout=10)
    [(to, body)] = inbox.wait_for(1)
    assert to == ["carol@example.com"]
    link(CONFIRM_LINK, body)
    assert not mail_records(caplog, logging.ERROR)


def test_a_hanging_delivery_delays_the_next_message_by_at_most_the_timeout(
    api_client: APIClient, peer: SmtpPeer, settings: Any
) -> None:
    settings.MAIL_RETRY_FIRST_DELAY = timedelta(seconds=TIMEOUT + 1)
    inbox = peer.serve(Inbox(stall=1))

    assert register(api_client, "carol").status_code == 201  # its first attempt stalls
    assert register(api_client, "dave").status_code == 201

    start = time.monotonic()
    run_worker()

    [(to, _)] = inbox.wait_for(1, timeout=1)
    # dave's mail went out once carol's attempt timed out, without waiting for carol's retry.
    assert to == ["dave@example.com"]
    assert time.monotonic() - start < TIMEOUT + 3
    work_until(all_finished, timeout=TIMEOUT + 5)
    mails = inbox.wait_for(2, timeout=1)
    assert [to for to, _ in mails] == [["dave@example.com"], ["carol@example.com"]]


@pytest.mark.parametrize("refusal", ["connection", "rcpt", "data"])
def test_when_every_attempt_fails_it_is_logged_without_secrets_and_can_be_requested_again(
    api_client: APIClient,
    peer: SmtpPeer,
    caplog: pytest.LogCaptureFixture,
    settings: Any,
    refusal: str,
) -> None:
    settings.MAIL_RETRY_FIRST_DELAY = timedelta(seconds=0.1)
    settings.MAIL_RETRY_FOR = timedelta(seconds=1)
    refuser = None if refusal == "connection" else peer.serve(Refuser(refusal))

    assert register(api_client, "carol").status_code == 201
    assert api_client.post(RESET, {"email": "carol@example.com"}).json() == RESET_SENT
    work_until(all_finished, timeout=10)

    gave_up = [r.getMessage() for r in mail_records(caplog, logging.ERROR)]
    assert len(gave_up) == 2
    assert all(m.startswith("mail delivery gave up after") for m in gave_up)
    attempts = sum(mail.attempts for mail in OutgoingMail.objects.all())
    assert attempts >= 2 * 3  # 0.1 s, 0.2 s, 0.4 s, ... until one second has passed
    assert OutgoingMail.objects.filter(message={}).count() == 2  # nothing kept of them
    address = EmailAddress.objects.get(email="carol@example.com")
    secrets = ["carol@example.com", "://", "confirm-email", "reset/confirm"]
    refused_bodies = refuser.bodies if refuser else []
    assert len(refused_bodies) == (attempts if refusal == "data" else 0)
    secrets += [EmailConfirmationHMAC(address).key, *refused_bodies]
    for record in mail_records(caplog):
        logged = repr(record.__dict__)
        assert not [s for s in secrets if s in logged], logged

    inbox = peer.serve(Inbox())
    assert api_client.post(RESEND, {"email": "carol@example.com"}).status_code == 200
    assert api_client.post(RESET, {"email": "carol@example.com"}).json() == RESET_SENT
    run_worker()

    bodies = [body for _, body in inbox.wait_for(2)]
    key = link(CONFIRM_LINK, *bodies)["key"]
    link(RESET_LINK, *bodies)
    assert api_client.post(VERIFY, {"key": key}).status_code == 200


def test_an_email_change_goes_through_smtp_end_to_end(
    api_client: APIClient, peer: SmtpPeer, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = peer.serve(Inbox())
    assert register(api_client, "carol").status_code == 201
    run_worker()
    key = link(CONFIRM_LINK, inbox.wait_for(1)[0][1])["key"]
    assert api_client.post(VERIFY, {"key": key}).status_code == 200
    login = APIClient().post(LOGIN, {"username": "carol", "password": PASSWORD}, format="json")
    carol = APIClient()
    carol.credentials(HTTP_AUTHORIZATION=f"Token {login.json()['key']}")

    started = carol.post(EMAIL, {"email": "carol@new.example.org", "password": PASSWORD})

    assert started.status_code == 200
    run_worker()
    mails = inbox.wait_for(3)[1:]
    assert sorted(to for to, _ in mails) == [["carol@example.com"], ["carol@new.example.org"]]
    to_new = next(body for to, body in mails if to == ["carol@new.example.org"])
    notice = next(body for to, body in mails if to == ["carol@example.com"])
    assert "://" not in notice
    confirm_link = link(CONFIRM_LINK, to_new)
    assert api_client.get(confirm_link[0]).status_code == 200
    assert User.objects.get(username="carol").email == "carol@example.com"

    assert api_client.post(VERIFY, {"key": confirm_link["key"]}).status_code == 200

    assert User.objects.get(username="carol").email == "carol@new.example.org"
    run_worker()
    notices = inbox.wait_for(5)[3:]
    assert sorted(to for to, _ in notices) == [["carol@example.com"], ["carol@new.example.org"]]
    to_old = next(body for to, body in notices if to == ["carol@example.com"])
    assert "changed from carol@example.com to carol@new.example.org" in to_old
    assert carol.get("/api/v1/dj-rest-auth/user/").status_code == 401
    assert all_finished()
    assert not mail_records(caplog)
