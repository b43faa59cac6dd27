"""Shared tables: rate-limit counters (no Redis), queued mail and periodic task chains."""

import uuid

from django.db import models
from django.utils import timezone


class RateLimitBucket(models.Model):
    """One counter window: `count` hits since the window opened, open until `expires_ms`."""

    bucket = models.CharField(max_length=200, primary_key=True)
    count = models.PositiveIntegerField()
    expires_ms = models.BigIntegerField(db_index=True)

    def __str__(self) -> str:
        return f"{self.bucket}: {self.count}"


class OutgoingMail(models.Model):
    """One mail handed to the queue: its message until delivered, then only its outcome.

    Written in the transaction that caused the mail, with the task that delivers it; the row
    lock and the status make the delivery idempotent (blogapi.core.mail).
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The serialized message (links, addresses); emptied once sent or given up.
    message = models.JSONField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    enqueued_at = models.DateTimeField(default=timezone.now)
    # Due time while queued; while sending, the end of the sender's lease.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outgoing_mail_due_idx"),
            models.Index(fields=["finished_at"], name="outgoing_mail_finished_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.id}: {self.status} after {self.attempts} attempt(s)"


class PeriodicRun(models.Model):
    """The live chain of one periodic task: only a run carrying `generation` may run and go on."""

    name = models.CharField(max_length=100, primary_key=True)
    generation = models.UUIDField(default=uuid.uuid4)
    next_run_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name}: next at {self.next_run_at:%Y-%m-%d %H:%M:%S}"
