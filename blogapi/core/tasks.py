"""The task queue's state for /readyz: how many tasks are due, how long the oldest has waited."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min
from django_tasks_db.models import DBTaskResult, get_date_max


@dataclass(frozen=True)
class TaskQueueState:
    """Due tasks not yet started, the oldest one's wait, and whether that wait is too long."""

    depth: int
    oldest_age_seconds: float | None
    stuck: bool


def task_queue_state(*, now: datetime, stuck_after: timedelta) -> TaskQueueState:
    """Read from the queue's table: a task is due from its run_after, or when enqueued."""
    ready = DBTaskResult.objects.ready()
    # django-tasks-db stores "no run_after" as its maximum date.
    unscheduled = ready.filter(run_after=get_date_max())
    waits = ready.exclude(run_after=get_date_max()).aggregate(
        count=Count("pk"), oldest=Min("run_after")
    )
    plain = unscheduled.aggregate(count=Count("pk"), oldest=Min("enqueued_at"))
    depth = waits["count"] + plain["count"]
    since = [at for at in (waits["oldest"], plain["oldest"]) if at is not None]
    if not since:
        return TaskQueueState(depth=depth, oldest_age_seconds=None, stuck=False)
    age = max(0.0, (now - min(since)).total_seconds())
    return TaskQueueState(
        depth=depth, oldest_age_seconds=round(age, 3), stuck=age > stuck_after.total_seconds()
    )
