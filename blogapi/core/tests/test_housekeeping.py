"""Housekeeping as periodic tasks the worker runs: one chain per job, idempotent, self-healing."""

import threading
import uuid
from datetime import UTC, datetime, timedelta
from importlib import import_module
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.mail import EmailMessage
from django.db import connection
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient

from blogapi.accounts.models import DeviceToken, User
from blogapi.core.housekeeping import (
    JOBS,
    housekeeping_run,
    housekeeping_schedule,
    register,
)
from blogapi.core.models import OutgoingMail, PeriodicRun, RateLimitBucket
from blogapi.core.tests.tasks import HOUSEKEEPING_TASK, LOCMEM, TASK_BACKEND, ready, run_worker
from conftest import login

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# The worker closes connections between tasks, as a request does (see test_mail_tasks).
pytestmark = pytest.mark.django_db(transaction=True)


def chains() -> dict[str, list[DBTaskResult]]:
    """The waiting runs of each job, by job name."""
    waiting: dict[str, list[DBTaskResult]] = {name: [] for name in JOBS}
    for task in ready(HOUSEKEEPING_TASK):
        waiting[task.args_kwargs["args"][0]].append(task)
    return waiting


def expired_bucket() -> RateLimitBucket:
    return RateLimitBucket.objects.create(bucket="login_ip:203.0.113.9", count=3, expires_ms=1)


def test_every_job_gets_one_chain_however_many_workers_start(time_machine: Any) -> None:
    time_machine.move_to(START, tick=False)
    errors: list[BaseException] = []

    def start_a_worker() -> None:
        try:
            housekeeping_schedule()
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=start_a_worker) for _ in range(3)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=30)
    housekeeping_schedule()

    assert errors == []
    assert {name: len(runs) for name, runs in chains().items()} == dict.fromkeys(JOBS, 1)
    assert {"expired_tokens_purge", "rate_limits_purge", "finished_tasks_purge"} <= set(JOBS)


def test_a_run_does_its_job_and_enqueues_exactly_its_next_run(time_machine: Any) -> None:
    time_machine.move_to(START, tick=False)
    expired_bucket()

    run_worker("worker")

    assert not RateLimitBucket.objects.exists()
    for name, [next_run] in chains().items():
        assert next_run.run_after == START + JOBS[name].every
    for hours in range(1, 4):  # the chains go on, one run each, however often the worker looks
        time_machine.move_to(START + timedelta(hours=hours), tick=False)
        run_worker("worker")
        run_worker()
        assert all(len(runs) == 1 for runs in chains().values())
    succeeded = DBTaskResult.objects.filter(task_path=HOUSEKEEPING_TASK, status="SUCCESSFUL")
    assert succeeded.count() > len(JOBS)


def test_a_leftover_of_an_older_chain_ends_without_running(time_machine: Any) -> None:
    time_machine.move_to(START, tick=False)
    housekeeping_schedule()
    expired_bucket()
    stray = housekeeping_run.enqueue("rate_limits_purge", str(uuid.uuid4()))
    before = {name: [t.pk for t in runs] for name, runs in chains().items()}
    DBTaskResult.objects.filter(task_path=HOUSEKEEPING_TASK).exclude(pk=stray.id).delete()

    run_worker()

    assert DBTaskResult.objects.get(pk=stray.id).return_value == "superseded"
    assert RateLimitBucket.objects.exists()
    assert ready(HOUSEKEEPING_TASK) == []
    assert before["rate_limits_purge"]  # the real chain had its own run


def test_a_lost_chain_is_started_again_and_a_live_one_is_left_alone(
    time_machine: Any, settings: Any
) -> None:
    time_machine.move_to(START, tick=False)
    housekeeping_schedule()
    generations = {run.name: run.generation for run in PeriodicRun.objects.all()}
    # Its worker was killed mid-run: the task never finished, nothing enqueued the next.
    DBTaskResult.objects.filter(
        task_path=HOUSEKEEPING_TASK, args_kwargs__args__0="rate_limits_purge"
    ).delete()
    every = JOBS["rate_limits_purge"].every

    time_machine.move_to(START + every, tick=False)
    # Late is not lost: its run may be waiting behind others in the queue.
    assert "rate_limits_purge" not in housekeeping_schedule()
    time_machine.move_to(START + every + settings.TASKS_STUCK_AFTER + timedelta(seconds=1))
    restarted = housekeeping_schedule()

    assert "rate_limits_purge" in restarted
    assert len(chains()["rate_limits_purge"]) == 1
    assert (
        PeriodicRun.objects.get(name="rate_limits_purge").generation
        != generations["rate_limits_purge"]
    )


def test_a_failing_job_keeps_its_chain(time_machine: Any) -> None:
    def broken() -> int:
        raise RuntimeError("the purge failed")

    register("broken_purge", every=timedelta(minutes=5), run=broken)
    try:
        time_machine.move_to(START, tick=False)
        run_worker("worker")

        [failed] = DBTaskResult.objects.filter(task_path=HOUSEKEEPING_TASK, status="FAILED")
        assert failed.args_kwargs["args"][0] == "broken_purge"
        [next_run] = chains()["broken_purge"]
        assert next_run.run_after == START + timedelta(minutes=5)
    finally:
        del JOBS["broken_purge"]


def test_finished_tasks_and_mail_records_are_purged_after_the_keep_time(
    time_machine: Any, settings: Any
) -> None:
    settings.EMAIL_BACKEND, settings.EMAIL_DELIVERY_BACKEND = TASK_BACKEND, LOCMEM
    time_machine.move_to(START, tick=False)
    EmailMessage("Subject", "Body", to=["carol@example.com"]).send()
    run_worker()
    assert len(mail.outbox) == 1
    EmailMessage("Subject", "Later", to=["dave@example.com"]).send()  # waits: no worker

    time_machine.move_to(START + settings.TASKS_KEEP_FINISHED - timedelta(seconds=1))
    assert JOBS["finished_tasks_purge"].run() == 0
    time_machine.move_to(START + settings.TASKS_KEEP_FINISHED + timedelta(seconds=1))
    assert JOBS["finished_tasks_purge"].run() == 2  # the task and the mail record

    [waiting] = DBTaskResult.objects.all()
    assert waiting.status == "READY"
    assert waiting.args_kwargs["args"][1]["to"] == ["dave@example.com"]
    assert not OutgoingMail.objects.exists()


def test_tasks_of_a_killed_worker_are_purged_after_the_keep_time(
    time_machine: Any, settings: Any
) -> None:
    settings.EMAIL_BACKEND = TASK_BACKEND
    time_machine.move_to(START, tick=False)
    EmailMessage("Subject", "Body", to=["dave@example.com"]).send()
    [task] = ready()
    task.claim("killed-worker")  # and never finished

    time_machine.move_to(START + settings.TASKS_KEEP_FINISHED - timedelta(seconds=1))
    assert JOBS["finished_tasks_purge"].run() == 0
    time_machine.move_to(START + settings.TASKS_KEEP_FINISHED + timedelta(seconds=1))
    assert JOBS["finished_tasks_purge"].run() == 1

    assert not DBTaskResult.objects.exists()


def test_the_accounts_token_purge_is_a_job(
    alice: User, api_client: APIClient, time_machine: Any
) -> None:
    time_machine.move_to(START, tick=False)
    login(api_client, "alice")
    time_machine.move_to(START + django_settings.AUTH_TOKEN_IDLE_TTL + timedelta(seconds=1))

    assert JOBS["expired_tokens_purge"].run() == 1
    assert not DeviceToken.objects.exists()


def test_expired_sessions_are_purged_by_a_job(time_machine: Any) -> None:
    time_machine.move_to(START, tick=False)
    store = import_module(django_settings.SESSION_ENGINE).SessionStore()
    store["kept"] = "no"
    store.set_expiry(60)
    store.create()
    time_machine.move_to(START + timedelta(seconds=61), tick=False)

    JOBS["expired_sessions_purge"].run()

    assert not store.exists(store.session_key)
