"""Periodic housekeeping the task worker runs itself: each job runs, then enqueues its next run.

A job is one line: `register("name", every=timedelta(hours=1), run=function)`, where `function`
is idempotent (a purge of what has expired) and returns a count. Each job is a chain of tasks:
a run locks the job's PeriodicRun row, enqueues its successor with `run_after` in the same
transaction, and only then does its work, so a failing purge never breaks the chain.

Several workers never multiply a chain: a run goes on only while it carries the row's current
`generation`; `housekeeping_schedule` (at every worker start and after every run) starts a new
generation only for a job that has none or whose chain is overdue (its task was lost, e.g. its
worker was killed mid-run), and any leftover of an older generation ends at its next run.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from blogapi.core import mail, ratelimit
from blogapi.core.models import PeriodicRun

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """A periodic job: its name, how often it runs, and what it runs."""

    name: str
    every: timedelta
    run: Callable[[], int]


JOBS: dict[str, Job] = {}
# A chain that never ran: always overdue.
NEVER = datetime(2000, 1, 1, tzinfo=UTC)


def register(name: str, *, every: timedelta, run: Callable[[], int]) -> None:
    """Make `run` a periodic job of the worker, every `every`."""
    JOBS[name] = Job(name=name, every=every, run=run)


def housekeeping_schedule() -> list[str]:
    """Start the chain of each job that has none or whose chain is lost; the names started."""
    started = []
    for job in JOBS.values():
        # get_or_create survives two workers creating the row at once; the lock then orders them.
        PeriodicRun.objects.get_or_create(name=job.name, defaults={"next_run_at": NEVER})
        with transaction.atomic():
            now = timezone.now()
            chain = PeriodicRun.objects.select_for_update().get(name=job.name)
            # Overdue by a whole period beyond the stuck threshold: its next task is lost.
            if chain.next_run_at >= now - job.every - settings.TASKS_STUCK_AFTER:
                continue
            chain.generation, chain.next_run_at = uuid.uuid4(), now
            chain.save()
            housekeeping_run.enqueue(job.name, str(chain.generation))
            started.append(job.name)
    return started


@task()
def housekeeping_run(name: str, generation: str) -> int | str:
    """One run of a job's chain: enqueue the next run, then do the job (see the module's notes)."""
    job = JOBS.get(name)
    if job is None:
        return "unknown job"
    with transaction.atomic():
        chain = PeriodicRun.objects.select_for_update().filter(name=name).first()
        if chain is None or str(chain.generation) != generation:
            return "superseded"
        chain.next_run_at = timezone.now() + job.every
        chain.save(update_fields=["next_run_at"])
        housekeeping_run.using(run_after=chain.next_run_at).enqueue(name, generation)
    done = job.run()
    housekeeping_schedule()  # any live chain restarts the lost ones
    return done


def finished_tasks_purge() -> int:
    """Delete finished tasks and mail records older than TASKS_KEEP_FINISHED.

    Also tasks started that long ago and still "running": their worker was killed (the backend
    never finishes them); their work was taken over (mail_requeue_stalled, a new chain).
    """
    before = timezone.now() - settings.TASKS_KEEP_FINISHED
    deleted, _ = DBTaskResult.objects.finished().filter(finished_at__lt=before).delete()
    abandoned, _ = DBTaskResult.objects.running().filter(started_at__lt=before).delete()
    return deleted + abandoned + mail.mail_purge_finished(before=before)


def expired_sessions_purge() -> int:
    """What `manage.py clearsessions` does, through the session engine's public API."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    return 0  # the engines do not count what they delete


register("mail_requeue_stalled", every=timedelta(minutes=1), run=mail.mail_requeue_stalled)
register("finished_tasks_purge", every=timedelta(hours=1), run=finished_tasks_purge)
register("rate_limits_purge", every=timedelta(hours=1), run=ratelimit.purge_expired)
register("expired_sessions_purge", every=timedelta(hours=6), run=expired_sessions_purge)
