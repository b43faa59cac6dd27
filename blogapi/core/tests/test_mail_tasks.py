"""Mail as durable tasks: enqueued with its cause, delivered by the worker once, retried a day."""

import itertools
import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import IntegrityError, connection, transaction
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient

from blogapi.accounts import views as account_views
from blogapi.accounts.models import User
from blogapi.core.mail import (
    mail_claim,
    mail_deliver,
    mail_requeue_stalled,
    message_to_json,
    send_lease,
)
from blogapi.core.models import OutgoingMail
from blogapi.core.tests.tasks import (
    FLAKY,
    LOCMEM,
    TASK_BACKEND,
    FlakyOutbox,
    queued,
    ready,
    run_worker,
)
from conftest import PASSWORD

RESET = "/api/v1/dj-rest-auth/password/reset/"
REGISTER = "/api/v1/dj-rest-auth/registration/"
CHANGE = "/api/v1/dj-rest-auth/password/change/"
RESET_LINK = r"https?://\S+/password/reset/confirm/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LOGGER = "blogapi.core.mail"

# The worker closes connections between tasks (close_old_connections), as a request does: a
# test transaction around it would be closed under it.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def queued_mail(settings: Any) -> None:
    """Mail goes through the task queue (the test runner's default is Django's outbox)."""
    settings.EMAIL_BACKEND = TASK_BACKEND
    settings.EMAIL_DELIVERY_BACKEND = LOCMEM
    settings.MAIL_RETRY_FIRST_DELAY = timedelta(seconds=30)
    settings.MAIL_RETRY_FOR = timedelta(days=1)
    FlakyOutbox.reset()


def register(client: APIClient, username: str) -> Any:
    data = {"username": username, "email": f"{username}@example.com"}
    body = {**data, "password1": PASSWORD, "password2": PASSWORD}
    return client.post(REGISTER, body, format="json")


def test_a_reset_request_enqueues_one_task_and_the_worker_delivers_it(
    api_client: APIClient, alice: User
) -> None:
    assert api_client.post(RESET, {"email": "alice@example.com"}).status_code == 200

    assert mail.outbox == []  # nothing leaves from the request
    [task] = ready()
    mail_id, message = task.args_kwargs["args"]
    assert message["to"] == ["alice@example.com"]
    assert not OutgoingMail.objects.exists()  # one row per mail in the request: the task

    run_worker()

    [sent] = mail.outbox
    assert sent.to == ["alice@example.com"]
    assert "/password/reset/confirm/" in str(sent.body)
    record = OutgoingMail.objects.get(pk=mail_id)
    assert record.status == OutgoingMail.Status.SENT
    assert record.message == {}  # the reset link is not kept once sent
    [task] = queued()
    assert (task.status, task.return_value) == ("SUCCESSFUL", "sent")
    assert task.args_kwargs == {"args": [mail_id, None], "kwargs": {}}  # nor in the task


def test_a_registration_enqueues_exactly_one_task_per_mail(api_client: APIClient) -> None:
    assert register(api_client, "carol").status_code == 201
    assert register(api_client, "dave").status_code == 201

    assert len(ready()) == 2
    run_worker()
    assert sorted(m.to[0] for m in mail.outbox) == ["carol@example.com", "dave@example.com"]


def test_a_password_change_notice_is_queued_inside_the_change(alice_client: APIClient) -> None:
    new = "another horse battery staple"
    data = {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    assert alice_client.post(CHANGE, data).status_code == 200

    assert mail.outbox == []
    run_worker()
    [notice] = mail.outbox
    assert notice.to == ["alice@example.com"]


def test_a_rolled_back_registration_enqueues_nothing(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_completion = account_views.user_signup_complete

    def mail_then_lose_a_race(**kwargs: Any) -> None:
        real_completion(**kwargs)  # the confirmation mail is handed over first
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(account_views, "user_signup_complete", mail_then_lose_a_race)

    response = register(api_client, "carol")

    assert response.status_code == 400, response.json()
    assert not User.objects.filter(username="carol").exists()
    assert not OutgoingMail.objects.exists()
    assert not DBTaskResult.objects.exists()
    run_worker()
    assert mail.outbox == []


def test_mail_sent_inside_a_transaction_that_rolls_back_is_never_queued(db: None) -> None:
    def send_then_fail() -> None:
        with transaction.atomic():
            EmailMessage("Subject", "Body", to=["carol@example.com"]).send()
            assert len(ready()) == 1
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        send_then_fail()

    assert not OutgoingMail.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_every_part_of_a_message_survives_the_queue(db: None) -> None:
    message = EmailMultiAlternatives(
        "Sübject",
        "Plain body",
        "Blog <blog@example.com>",
        to=["to@example.com"],
        cc=["cc@example.com"],
        bcc=["bcc@example.com"],
        reply_to=["reply@example.com"],
        headers={"X-Tag": "notice"},
    )
    message.attach_alternative("<p>HTML body</p>", "text/html")
    message.send()

    run_worker()

    [sent] = mail.outbox
    assert (sent.subject, sent.body, sent.from_email) == message_fields(message)[:3]
    assert (sent.to, sent.cc, sent.bcc, sent.reply_to) == (
        ["to@example.com"],
        ["cc@example.com"],
        ["bcc@example.com"],
        ["reply@example.com"],
    )
    assert sent.extra_headers["X-Tag"] == "notice"
    assert sent.extra_headers["Message-ID"].startswith("<")
    assert isinstance(sent, EmailMultiAlternatives)
    assert [tuple(a) for a in sent.alternatives] == [("<p>HTML body</p>", "text/html")]


def message_fields(message: EmailMessage) -> tuple[str, str, str]:
    return str(message.subject), str(message.body), str(message.from_email)


def test_a_message_with_attachments_is_refused_not_silently_cut(db: None) -> None:
    message = EmailMessage("Subject", "Body", to=["carol@example.com"])
    message.attach("a.txt", "content", "text/plain")

    with pytest.raises(ValueError, match="attachments"):
        message.send()
    assert not OutgoingMail.objects.exists()


def test_running_the_same_mail_task_twice_sends_it_once(alice: User, api_client: APIClient) -> None:
    api_client.post(RESET, {"email": "alice@example.com"})
    [task] = ready()
    mail_id, message = task.args_kwargs["args"]
    run_worker()

    again = mail_deliver.enqueue(mail_id, message)  # the same task a second time
    run_worker()

    assert len(mail.outbox) == 1
    assert DBTaskResult.objects.get(pk=again.id).return_value == "already sent"


def test_a_failed_attempt_is_retried_later_and_then_delivered_once(
    api_client: APIClient,
    alice: User,
    settings: Any,
    time_machine: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.EMAIL_DELIVERY_BACKEND = FLAKY
    FlakyOutbox.reset(failures=1)
    time_machine.move_to(START, tick=False)
    api_client.post(RESET, {"email": "alice@example.com"})

    run_worker()

    assert mail.outbox == []
    [retry] = ready()
    assert retry.run_after == START + timedelta(seconds=30)
    [warning] = [r for r in caplog.records if r.name == LOGGER]
    assert warning.getMessage() == (
        "mail delivery attempt 1 failed (ConnectionRefusedError), retry in 30 s"
    )
    run_worker()  # not due yet
    assert FlakyOutbox.attempts == 1

    time_machine.move_to(START + timedelta(seconds=30), tick=False)
    run_worker()

    assert FlakyOutbox.attempts == 2
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert OutgoingMail.objects.get().status == OutgoingMail.Status.SENT


def test_delivery_is_retried_with_growing_delays_for_a_day_then_failed_and_logged(
    api_client: APIClient,
    alice: User,
    settings: Any,
    time_machine: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.EMAIL_DELIVERY_BACKEND = FLAKY
    FlakyOutbox.reset(failures=-1)
    time_machine.move_to(START, tick=False)
    api_client.post(RESET, {"email": "alice@example.com"})
    attempts_at = []

    while waiting := ready():
        [task] = waiting
        due = task.run_after if task.run_after.year < 9999 else START
        time_machine.move_to(due, tick=False)
        attempts_at.append(due)
        run_worker()

    delays = [later - earlier for earlier, later in itertools.pairwise(attempts_at)]
    assert delays[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert max(delays) == timedelta(hours=1)
    # Each wait at least the one before, but the last: cut short by the deadline.
    assert all(later >= earlier for earlier, later in itertools.pairwise(delays[:-1]))
    assert attempts_at[-1] == START + timedelta(days=1)  # the last one at the deadline
    assert FlakyOutbox.attempts == len(attempts_at)
    assert mail.outbox == []
    record = OutgoingMail.objects.get()
    assert (record.status, record.message) == (OutgoingMail.Status.FAILED, {})
    last = queued()[-1]
    assert last.status == "FAILED"
    assert last.exception_class_path == "blogapi.core.mail.MailNotDelivered"
    assert "alice@example.com" not in last.traceback
    [gave_up] = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.ERROR]
    assert gave_up.getMessage() == (
        f"mail delivery gave up after {len(attempts_at)} attempts (ConnectionRefusedError)"
    )
    logged = repr([r.__dict__ for r in caplog.records if r.name == LOGGER])
    assert "alice@example.com" not in logged
    assert "reset/confirm" not in logged


def test_a_mail_whose_worker_died_mid_send_is_sent_after_its_lease(
    alice: User, api_client: APIClient, time_machine: Any
) -> None:
    time_machine.move_to(START, tick=False)
    api_client.post(RESET, {"email": "alice@example.com"})
    [task] = ready()
    mail_id, message = task.args_kwargs["args"]
    # A worker took the task and the mail, then was killed before sending: the task stays
    # RUNNING and the mail SENDING; nothing would ever run them again.
    task.claim("killed-worker")
    claimed = mail_claim(mail_id=mail_id, message=message, enqueued_at=START)
    assert isinstance(claimed, OutgoingMail)

    time_machine.move_to(START + send_lease() - timedelta(seconds=1), tick=False)
    assert mail_requeue_stalled() == 0  # its sender may still be at work
    time_machine.move_to(START + send_lease() + timedelta(seconds=1), tick=False)
    assert mail_requeue_stalled() == 1
    assert mail_requeue_stalled() == 0
    run_worker()

    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert OutgoingMail.objects.get().attempts == 2


def test_two_workers_never_send_one_mail_twice(settings: Any) -> None:
    settings.EMAIL_DELIVERY_BACKEND = FLAKY
    FlakyOutbox.reset(delay=0.05)  # sends overlap: each worker is mid-send while the other claims
    for number in range(12):
        message = EmailMessage("Subject", f"Mail {number}", to=[f"user{number}@example.com"])
        mail_id, data = str(uuid.uuid4()), message_to_json(message)
        # Each mail's task twice in a row (a redelivery): the two workers take a pair at once.
        mail_deliver.enqueue(mail_id, data)
        mail_deliver.enqueue(mail_id, data)
    errors: list[BaseException] = []

    def work(worker_id: str) -> None:
        try:
            Worker(
                queue_names=["default"],
                interval=0,
                batch=True,
                backend_name="default",
                startup_delay=False,
                max_tasks=None,
                worker_id=worker_id,
                excluded_queue_names=[],
            ).run()
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=work, args=(f"worker-{n}",)) for n in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=60)

    assert errors == []
    bodies = sorted(str(m.body) for m in mail.outbox)
    assert bodies == sorted(f"Mail {n}" for n in range(12))
    assert OutgoingMail.objects.filter(status=OutgoingMail.Status.SENT).count() == 12
    ran_by = {w for task in queued(status="SUCCESSFUL") for w in task.worker_ids}
    assert ran_by == {"worker-0", "worker-1"}  # both workers took part
