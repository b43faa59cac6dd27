"""Mail delivery off the request path: a background sender thread per process.

Requests hand their (fully rendered) messages over and answer at once, so a known and an unknown
address take the same time and a slow or dead SMTP server never delays or changes an answer.
Failed deliveries are retried; what still fails is logged (never the body) and can be
re-requested by the user (reset, resend verification). Django has no such backend built in.
"""

import atexit
import logging
import queue
import threading
import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

logger = logging.getLogger(__name__)

RETRY_DELAYS = (1.0, 5.0, 30.0)

_queue: "queue.Queue[EmailMessage]" = queue.Queue()
_start_lock = threading.Lock()
_worker: threading.Thread | None = None


def _deliver(message: EmailMessage) -> None:
    for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
        time.sleep(delay)
        try:
            connection = get_connection(settings.EMAIL_DELIVERY_BACKEND, fail_silently=False)
            connection.send_messages([message])
            return
        except Exception as error:
            logger.warning(
                "mail delivery failed",
                extra={"attempt": attempt + 1, "to_count": len(message.to), "error": repr(error)},
            )
    logger.error("mail delivery gave up", extra={"subject": message.subject})


def _run() -> None:
    while True:
        message = _queue.get()
        try:
            _deliver(message)
        finally:
            _queue.task_done()


def _ensure_worker() -> None:
    global _worker
    with _start_lock:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_run, name="mail-sender", daemon=True)
            _worker.start()


def _enqueue(messages: list[EmailMessage]) -> None:
    for message in messages:
        _queue.put(message)


def wait_until_sent(timeout: float) -> bool:
    """Block until every handed-over message was delivered or given up; False on timeout."""
    deadline = time.monotonic() + timeout
    while _queue.unfinished_tasks:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class BackgroundEmailBackend(BaseEmailBackend):
    """EMAIL_BACKEND that queues messages for EMAIL_DELIVERY_BACKEND (from EMAIL_URL)."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        messages = list(email_messages)
        if messages:
            _ensure_worker()
            # After commit: a registration rolled back (e.g. a lost race) mails nobody.
            transaction.on_commit(lambda: _enqueue(messages))
        return len(messages)

    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently)


# A management command or a worker shutting down gives queued mail a moment to leave.
atexit.register(lambda: wait_until_sent(timeout=float(settings.EMAIL_TIMEOUT)))
