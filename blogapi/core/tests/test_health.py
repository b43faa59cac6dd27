"""/healthz and /readyz over HTTP: public, cheap, JSON, 503 naming what is down, no redirect."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.mail import EmailMessage
from django.db import OperationalError
from django.test import Client, override_settings

from blogapi.core.mail import mail_deliver
from blogapi.core.tests.tasks import LOCMEM, TASK_BACKEND, run_worker

EMPTY_QUEUE = {"depth": 0, "oldest_age_seconds": None, "stuck": False}
BROKEN_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        # Port 1: nothing listens there, so every connection is refused.
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
    }
}


def test_healthz_answers_ok_without_touching_the_database(
    client: Client, db: None, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


def test_readyz_answers_ok_when_database_and_cache_answer(client: Client, db: None) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "tasks": EMPTY_QUEUE}
    assert "no-store" in response["Cache-Control"]


def test_readyz_answers_503_naming_the_cache_when_redis_is_down(client: Client, db: None) -> None:
    with override_settings(CACHES=BROKEN_REDIS):
        started = time.monotonic()
        response = client.get("/readyz")
        took = time.monotonic() - started

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failed": ["cache"]}
    assert took < 5


def refuse(*args: Any, **kwargs: Any) -> None:
    raise OperationalError("connection refused")


@contextmanager
def failing_database() -> Iterator[None]:
    """Every query raises, as with PostgreSQL down; undone before the test database's teardown."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.db.backends.utils.CursorWrapper.execute", refuse)
        yield


def test_readyz_answers_503_naming_the_database_when_it_fails(client: Client, db: None) -> None:
    with failing_database():
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failed": ["database"]}


def test_readyz_names_both_when_both_are_down(client: Client, db: None) -> None:
    with failing_database(), override_settings(CACHES=BROKEN_REDIS):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failed"] == ["database", "cache"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_public_even_with_bad_credentials(client: Client, db: None, path: str) -> None:
    response = client.get(path, HTTP_AUTHORIZATION="Token not-a-real-key")

    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_over_plain_http_are_not_redirected_to_https(
    client: Client, db: None, settings: Any, path: str
) -> None:
    settings.SECURE_SSL_REDIRECT = True

    assert client.get(path).status_code == 200
    assert client.get("/api/v1/").status_code == 301  # everything else still is


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_head_but_refuse_writes(client: Client, db: None, path: str) -> None:
    assert client.head(path).status_code == 200
    assert client.post(path).status_code == 405


@pytest.mark.parametrize("method", ["post", "put", "delete", "options"])
def test_probes_refuse_other_methods_with_json_and_allow(
    client: Client, db: None, method: str
) -> None:
    response = getattr(client, method)("/healthz")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_json_whatever_the_accept_header(client: Client, db: None, path: str) -> None:
    response = client.get(path, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["status"] == "ok"


QUEUE_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_readyz_reports_how_many_tasks_are_due_and_the_oldest_ones_wait(
    client: Client, settings: Any, time_machine: Any
) -> None:
    settings.EMAIL_BACKEND, settings.EMAIL_DELIVERY_BACKEND = TASK_BACKEND, LOCMEM
    time_machine.move_to(QUEUE_START, tick=False)
    EmailMessage("Subject", "First", to=["carol@example.com"]).send()
    time_machine.move_to(QUEUE_START + timedelta(seconds=20), tick=False)
    EmailMessage("Subject", "Second", to=["dave@example.com"]).send()
    # A retry or a periodic run scheduled for later is not waiting yet.
    mail_deliver.using(run_after=QUEUE_START + timedelta(hours=1)).enqueue("later", None)
    time_machine.move_to(QUEUE_START + timedelta(seconds=30), tick=False)

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "tasks": {"depth": 2, "oldest_age_seconds": 30.0, "stuck": False},
    }
    run_worker()
    assert client.get("/readyz").json()["tasks"] == EMPTY_QUEUE


@pytest.mark.django_db(transaction=True)
def test_readyz_flags_a_stuck_queue_and_logs_it_but_stays_ready(
    client: Client, settings: Any, time_machine: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.EMAIL_BACKEND = TASK_BACKEND
    time_machine.move_to(QUEUE_START, tick=False)
    EmailMessage("Subject", "Body", to=["carol@example.com"]).send()
    stuck_after = settings.TASKS_STUCK_AFTER.total_seconds()

    time_machine.move_to(QUEUE_START + settings.TASKS_STUCK_AFTER, tick=False)
    assert client.get("/readyz").json()["tasks"]["stuck"] is False
    time_machine.move_to(QUEUE_START + timedelta(seconds=stuck_after + 1), tick=False)
    response = client.get("/readyz")

    assert response.status_code == 200  # this web process still serves
    assert response.json()["tasks"] == {
        "depth": 1,
        "oldest_age_seconds": stuck_after + 1,
        "stuck": True,
    }
    assert "readiness: task queue stuck" in [r.getMessage() for r in caplog.records]
