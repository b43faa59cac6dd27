"""The benchmark's baseline: how requests handed mail over before issue 20, for comparison only.

An on_commit callback put the rendered message on an in-process queue that a thread drained
through EMAIL_DELIVERY_BACKEND: what a request paid was the callback and the put. The retries
and exit-time draining of that sender cost a request nothing and are left out.
"""

import queue
import threading
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

_waiting: "queue.SimpleQueue[EmailMessage]" = queue.SimpleQueue()
_sender_lock = threading.Lock()
_sender: threading.Thread | None = None


def _send_forever() -> None:
    connection = get_connection(settings.EMAIL_DELIVERY_BACKEND, fail_silently=True)
    while True:
        connection.send_messages([_waiting.get()])


def _hand_over(messages: list[EmailMessage]) -> None:
    global _sender
    for message in messages:
        _waiting.put(message)
    with _sender_lock:
        if _sender is None or not _sender.is_alive():
            _sender = threading.Thread(target=_send_forever, name="mail-sender", daemon=True)
            _sender.start()


class ThreadEmailBackend(BaseEmailBackend):
    """The old EMAIL_BACKEND's request side: after commit, onto a thread's queue."""

    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        messages = list(email_messages)
        if messages:
            transaction.on_commit(lambda: _hand_over(messages), robust=True)
        return len(messages)
