"""Mail delivery off the request path: a background sender thread per process.

Requests hand their (fully rendered) messages over and answer at once, so a known and an unknown
address take the same time and a slow or dead SMTP server never delays or changes an answer.
Failed deliveries are retried; what still fails is logged (never the body or an address) and can
be re-requested by the user (reset, resend verification). Django has no such backend built in.
"""

import atexit
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

logger = logging.getLogger(__name__)

# Seconds before each retry; read at every failure, so tests can patch it.
RETRY_DELAYS: tuple[float, ...] = (1.0, 5.0, 30.0)

# Messages by due time: (due, order, attempt, message). A message waiting for its retry sits here,
# not in the sender, so it never holds up the messages behind it.
_due: list[tuple[float, int, int, EmailMessage]] = []
_order = itertools.count()
_unfinished = 0  # handed over and neither delivered nor given up
_changed = threading.Condition()
_worker: threading.Thread | None = None


def _schedule(message: EmailMessage, attempt: int, delay: float) -> None:
    with _changed:
        heapq.heappush(_due, (time.monotonic() + delay, next(_order), attempt, message))
        _changed.notify_all()


def _next_due() -> tuple[int, EmailMessage]:
    with _changed:
        while not _due or _due[0][0] > time.monotonic():
            _changed.wait(_due[0][0] - time.monotonic() if _due else None)
        _, _, attempt, message = heapq.heappop(_due)
        return attempt, message


def _try(message: EmailMessage, attempt: int) -> bool:
    """Deliver once; True when the message is done with (sent or given up)."""
    try:
        connection = get_connection(
            settings.EMAIL_DELIVERY_BACKEND, fail_silently=False, timeout=settings.EMAIL_TIMEOUT
        )
        connection.send_messages([message])
        return True
    except Exception as error:
        # Type and SMTP code only: the error's text can name the recipients.
        reason = f"{type(error).__name__} {getattr(error, 'smtp_code', '')}".strip()
    details = {"attempt": attempt + 1, "to_count": len(message.to), "error": reason}
    if attempt < len(RETRY_DELAYS):
        delay = RETRY_DELAYS[attempt]
        logger.warning(
            "mail delivery attempt %d failed (%s), retry in %g s",
            attempt + 1,
            reason,
            delay,
            extra=details,
        )
        _schedule(message, attempt + 1, delay)
        return False
    details["subject"] = message.subject
    logger.error("mail delivery gave up after %d attempts (%s)", attempt + 1, reason, extra=details)
    return True


def _run() -> None:
    global _unfinished
    while True:
        attempt, message = _next_due()
        try:
            done = _try(message, attempt)
        except Exception as error:  # a bug must not stop the sender: drop this one, keep going
            logger.error("mail sender error (%s)", type(error).__name__)
            done = True
        if done:
            with _changed:
                _unfinished -= 1
                _changed.notify_all()


def _enqueue(messages: list[EmailMessage]) -> None:
    global _unfinished, _worker
    with _changed:
        _unfinished += len(messages)
        for message in messages:
            _schedule(message, 0, 0.0)
        # (Re)started here: threads do not survive a fork, and a dead one must not strand mail.
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_run, name="mail-sender", daemon=True)
            _worker.start()


def wait_until_sent(timeout: float) -> bool:
    """Block until every handed-over message was delivered or given up; False on timeout."""
    with _changed:
        return _changed.wait_for(lambda: _unfinished == 0, timeout)


class BackgroundEmailBackend(BaseEmailBackend):
    """EMAIL_BACKEND that queues messages for EMAIL_DELIVERY_BACKEND (from EMAIL_URL)."""

    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        messages = list(email_messages)
        if messages:
            # After commit: a registration rolled back (e.g. a lost race) mails nobody. Robust: a
            # failure here (no thread to be had) is logged, not a 500 for a committed request.
            transaction.on_commit(lambda: _enqueue(messages), robust=True)
        return len(messages)


# Delivery backends (from EMAIL_URL) that keep mail where others read it, links included.
_UNDELIVERED = {
    "django.core.mail.backends.console.EmailBackend": "printed to the server's output",
    "django.core.mail.backends.filebased.EmailBackend": "written to files",
}


def warn_when_mail_is_not_sent() -> None:
    """At start in production: a warning when EMAIL_URL prints (or files) mail, not sends it.

    Production only starts with an explicit EMAIL_URL; consolemail:// may be a deliberate choice
    (e.g. a platform that collects the output), but every reset link then lands in the logs.
    """
    fate = _UNDELIVERED.get(settings.EMAIL_DELIVERY_BACKEND)
    if fate and not settings.DEBUG:
        logger.warning(
            "EMAIL_URL does not send mail: every mail, reset and confirmation links included, "
            "is %s. Set EMAIL_URL to an SMTP server (smtp+tls://...) to deliver it.",
            fate,
        )


def _drain_at_exit() -> None:
    if not wait_until_sent(timeout=float(settings.EMAIL_TIMEOUT)):
        logger.error("mail sender stopped with %d message(s) undelivered", _unfinished)


# A management command or a worker shutting down gives queued mail a moment to leave.
atexit.register(_drain_at_exit)
