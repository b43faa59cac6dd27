"""Test helpers for the task queue: run the worker in-process, list what is queued."""

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

MAIL_TASK = "blogapi.core.mail.mail_deliver"
HOUSEKEEPING_TASK = "blogapi.core.housekeeping.housekeeping_run"
TASK_BACKEND = "blogapi.core.mail.TaskEmailBackend"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
WORKER_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)


@contextmanager
def pytest_signals_kept() -> Iterator[None]:
    """The worker installs its own signal handlers; pytest's come back afterwards."""
    handlers = {number: signal.getsignal(number) for number in WORKER_SIGNALS}
    try:
        yield
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)


def run_worker(command: str = "db_worker") -> None:
    """The worker command in this process until no task is due (`--batch`), as documented."""
    with pytest_signals_kept():
        call_command(
            command, batch=True, reload=False, startup_delay=False, interval=0, verbosity=0
        )


def queued(task_path: str = MAIL_TASK, **filters: Any) -> list[DBTaskResult]:
    """The tasks of `task_path` in the queue's table, oldest first."""
    return list(DBTaskResult.objects.filter(task_path=task_path, **filters).order_by("enqueued_at"))


def ready(task_path: str = MAIL_TASK) -> list[DBTaskResult]:
    return queued(task_path, status="READY")


class FlakyOutbox(BaseEmailBackend):
    """A delivery backend failing the first `failures` sends (class-wide), then the locmem outbox.

    `failures` < 0 fails forever. Thread-safe: the two-worker tests send from two threads.
    """

    failures = 0
    attempts = 0
    delay = 0.0
    lock = threading.Lock()

    @classmethod
    def reset(cls, *, failures: int = 0, delay: float = 0.0) -> None:
        cls.failures, cls.attempts, cls.delay = failures, 0, delay

    def send_messages(self, email_messages: Any) -> int:
        with FlakyOutbox.lock:
            FlakyOutbox.attempts += 1
            failing = FlakyOutbox.failures != 0
            if FlakyOutbox.failures > 0:
                FlakyOutbox.failures -= 1
        if failing:
            raise ConnectionRefusedError(111, "Connection refused")
        if FlakyOutbox.delay:
            threading.Event().wait(FlakyOutbox.delay)  # a slow SMTP server: sends overlap
        with FlakyOutbox.lock:
            mail.outbox.extend(email_messages)
        return len(email_messages)


FLAKY = f"{__name__}.FlakyOutbox"
