"""Mail as durable tasks: the EMAIL_BACKEND enqueues, the task worker delivers through EMAIL_URL.

Every sender (allauth, dj-rest-auth, our notices) calls Django's mail API; TaskEmailBackend
enqueues one task per message, carrying the message and a new mail id, in the caller's own
transaction (one row: a request pays one insert): rolled back, no mail; committed, the mail
survives the web process. Requests never wait for SMTP.

The task (mail_deliver) sends at least once and, after a success, never again: it claims the
mail's OutgoingMail row, the send record keyed by the mail id (created on the first attempt,
locked, status SENDING, a lease), sends, then marks it SENT and empties its message; the
message is also dropped from the task's own arguments once it has run. The windows for a second
copy: a worker that dies after the SMTP server accepted the message and before SENT is written
(once its lease ends the mail is sent again, mail_requeue_stalled), and a server that accepts
but answers after EMAIL_TIMEOUT. No SMTP sender can close them; the Message-ID, the same on
every attempt, lets the receiving side recognise the copy.

Failed attempts are retried with backoff (MAIL_RETRY_FIRST_DELAY, doubling, at most an hour
apart) until MAIL_RETRY_FOR after the mail was enqueued; then it is marked failed and logged
(never the body or an address) and can be re-requested by the user (reset, resend).
"""

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.utils import DNS_NAME
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import TaskContext, task
from django_tasks_db.models import DBTaskResult

from blogapi.core.models import OutgoingMail

logger = logging.getLogger(__name__)

Status = OutgoingMail.Status
# Retries never wait longer than this between two attempts.
LONGEST_RETRY_DELAY = timedelta(hours=1)


class MailNotDelivered(Exception):
    """Every attempt until MAIL_RETRY_FOR failed; the task ends as failed."""


def message_to_json(message: EmailMessage) -> dict[str, Any]:
    """What a worker needs to rebuild the message: task arguments and JSON columns take JSON."""
    if message.attachments:
        # None of our senders attaches files; a silent drop would be worse than a loud refusal.
        raise ValueError("Mail with attachments cannot be queued.")
    headers = {str(name): str(value) for name, value in message.extra_headers.items()}
    if not any(name.lower() == "message-id" for name in headers):
        # One Message-ID for every attempt: a receiver can tell a second copy (see above).
        headers["Message-ID"] = make_msgid(domain=str(DNS_NAME))
    alternatives = getattr(message, "alternatives", [])
    return {
        "subject": str(message.subject),
        "body": str(message.body),
        "from_email": str(message.from_email),
        "to": [str(address) for address in message.to],
        "cc": [str(address) for address in message.cc],
        "bcc": [str(address) for address in message.bcc],
        "reply_to": [str(address) for address in message.reply_to],
        "headers": headers,
        "alternatives": [[str(content), str(mimetype)] for content, mimetype in alternatives],
        "content_subtype": message.content_subtype,
    }


def message_from_json(data: dict[str, Any]) -> EmailMultiAlternatives:
    """The message message_to_json described."""
    message = EmailMultiAlternatives(
        subject=data["subject"],
        body=data["body"],
        from_email=data["from_email"],
        to=data["to"],
        cc=data["cc"],
        bcc=data["bcc"],
        reply_to=data["reply_to"],
        headers=data["headers"],
    )
    for content, mimetype in data["alternatives"]:
        message.attach_alternative(content, mimetype)
    message.content_subtype = data["content_subtype"]
    return message


def mail_enqueue(*, message: EmailMessage) -> str:
    """Enqueue the message's delivery in the current transaction; its new mail id."""
    mail_id = str(uuid.uuid4())
    mail_deliver.enqueue(mail_id, message_to_json(message))
    return mail_id


class TaskEmailBackend(BaseEmailBackend):
    """EMAIL_BACKEND that enqueues each message for delivery by the task worker."""

    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        # No on_commit: the rows belong to the caller's transaction, so they commit or roll back
        # with the change that caused the mail.
        messages = list(email_messages)
        if len(messages) == 1:
            mail_enqueue(message=messages[0])  # one insert: atomic by itself
            return 1
        with transaction.atomic():
            for message in messages:
                mail_enqueue(message=message)
        return len(messages)


def send_lease() -> timedelta:
    """How long a claimed mail is left to its sender before another worker may take it over."""
    return timedelta(seconds=max(60, 10 * settings.EMAIL_TIMEOUT))


def mail_claim(
    *, mail_id: str, message: dict[str, Any] | None, enqueued_at: datetime
) -> OutgoingMail | str:
    """Lock the mail and take it for one attempt; a string saying why not when it is not due.

    The first attempt writes the send record, already taken (from the task's message, counting
    retries from when the task was enqueued): one commit per claim.
    """
    with transaction.atomic():
        mail = OutgoingMail.objects.select_for_update().filter(pk=mail_id).first()
        if mail is None:
            return "gone" if message is None else mail_first_claim(mail_id, message, enqueued_at)
        if mail.status in (Status.SENT, Status.FAILED):
            return f"already {mail.status}"
        now = timezone.now()
        if mail.next_attempt_at > now:
            if mail.status == Status.SENDING:
                # Another worker is sending it: look again once its lease ends (it may die).
                mail_deliver.using(run_after=mail.next_attempt_at).enqueue(str(mail.pk), None)
            return "not due"  # a queued retry's own task comes at its time
        mail.status = Status.SENDING
        mail.attempts += 1
        mail.next_attempt_at = now + send_lease()
        mail.save(update_fields=["status", "attempts", "next_attempt_at"])
        return mail


def mail_first_claim(
    mail_id: str, message: dict[str, Any], enqueued_at: datetime
) -> OutgoingMail | str:
    """Create the send record, taken for a first attempt; "taken" if another worker just did."""
    try:
        with transaction.atomic():  # a savepoint: the loser of two first attempts goes on
            return OutgoingMail.objects.create(
                pk=mail_id,
                message=message,
                enqueued_at=enqueued_at,
                status=Status.SENDING,
                attempts=1,
                next_attempt_at=timezone.now() + send_lease(),
            )
    except IntegrityError:
        return "taken"  # the winner sends; its lease covers its death (mail_requeue_stalled)


def task_message_drop(*, task_id: str | None, mail_id: str) -> None:
    """Drop the message from the first task's arguments once the send record holds it.

    django-tasks-db keeps a task's arguments (shown in its admin) until purged: no reset link
    lingers there.
    """
    if task_id is not None:
        DBTaskResult.objects.filter(pk=task_id).update(
            args_kwargs={"args": [mail_id, None], "kwargs": {}}
        )


def retry_delay(*, attempts: int) -> timedelta:
    """Backoff after the given number of failed attempts: doubling, at most an hour."""
    first = settings.MAIL_RETRY_FIRST_DELAY
    return min(first * 2 ** min(attempts - 1, 20), max(first, LONGEST_RETRY_DELAY))


def failure_reason(error: Exception) -> str:
    # Type and SMTP code only: the error's text can name the recipients.
    return f"{type(error).__name__} {getattr(error, 'smtp_code', '')}".strip()


def mail_attempt_failed(*, mail: OutgoingMail, reason: str, task_id: str | None) -> str:
    """Schedule the next attempt, or give up once MAIL_RETRY_FOR has passed (MailNotDelivered)."""
    now = timezone.now()
    deadline = mail.enqueued_at + settings.MAIL_RETRY_FOR
    details: dict[str, Any] = {
        "attempt": mail.attempts,
        "to_count": len(mail.message["to"]) + len(mail.message["cc"]) + len(mail.message["bcc"]),
        "error": reason,
    }
    if now < deadline:
        due = min(now + retry_delay(attempts=mail.attempts), deadline)
        with transaction.atomic():
            OutgoingMail.objects.filter(pk=mail.pk, status=Status.SENDING).update(
                status=Status.QUEUED, next_attempt_at=due
            )
            mail_deliver.using(run_after=due).enqueue(str(mail.pk), None)
            task_message_drop(task_id=task_id, mail_id=str(mail.pk))
        wait = (due - now).total_seconds()
        logger.warning(
            "mail delivery attempt %d failed (%s), retry in %g s",
            mail.attempts,
            reason,
            wait,
            extra=details,
        )
        return "retry scheduled"
    with transaction.atomic():
        OutgoingMail.objects.filter(pk=mail.pk).update(
            status=Status.FAILED, message={}, finished_at=now
        )
        task_message_drop(task_id=task_id, mail_id=str(mail.pk))
    details["subject"] = mail.message["subject"]
    logger.error(
        "mail delivery gave up after %d attempts (%s)", mail.attempts, reason, extra=details
    )
    # From None: the SMTP error's text (it can name recipients) stays out of the stored traceback.
    raise MailNotDelivered(f"gave up after {mail.attempts} attempts ({reason})") from None


@task(takes_context=True)
def mail_deliver(context: TaskContext, mail_id: str, message: dict[str, Any] | None) -> str:
    """Deliver one queued mail through EMAIL_URL's backend; idempotent (see the module's notes).

    `message` rides with the first task only: retries and requeues find it in the send record.
    """
    task_id = context.task_result.id if message is not None else None
    enqueued_at = context.task_result.enqueued_at or timezone.now()
    claimed = mail_claim(mail_id=mail_id, message=message, enqueued_at=enqueued_at)
    if isinstance(claimed, str):
        task_message_drop(task_id=task_id, mail_id=mail_id)
        return claimed
    try:
        connection = get_connection(
            settings.EMAIL_DELIVERY_BACKEND, fail_silently=False, timeout=settings.EMAIL_TIMEOUT
        )
        connection.send_messages([message_from_json(claimed.message)])
    except Exception as error:
        return mail_attempt_failed(mail=claimed, reason=failure_reason(error), task_id=task_id)
    with transaction.atomic():
        OutgoingMail.objects.filter(pk=claimed.pk).exclude(status=Status.SENT).update(
            status=Status.SENT, message={}, finished_at=timezone.now()
        )
        task_message_drop(task_id=task_id, mail_id=mail_id)
    return "sent"


def mail_requeue_stalled() -> int:
    """A mail whose sender died mid-attempt (lease over, still SENDING) gets a new task."""
    requeued = 0
    stalled = OutgoingMail.objects.filter(
        status=Status.SENDING, next_attempt_at__lt=timezone.now()
    ).values_list("pk", flat=True)
    for mail_id in stalled:
        with transaction.atomic():
            now = timezone.now()
            taken = OutgoingMail.objects.filter(
                pk=mail_id, status=Status.SENDING, next_attempt_at__lt=now
            ).update(status=Status.QUEUED, next_attempt_at=now)
            if taken:
                mail_deliver.enqueue(str(mail_id), None)
                requeued += taken
    if requeued:
        logger.warning("mail: %d delivery(ies) whose sender died were queued again", requeued)
    return requeued


def mail_purge_finished(*, before: Any) -> int:
    """Delete the records of mail sent or given up before `before` (their messages are gone)."""
    deleted, _ = OutgoingMail.objects.filter(finished_at__lt=before).delete()
    return deleted


# Delivery backends (from EMAIL_URL) that keep mail where others read it, links included.
_UNDELIVERED = {
    "django.core.mail.backends.console.EmailBackend": "printed to the worker's output",
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
