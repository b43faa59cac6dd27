"""`manage.py worker`: django-tasks-db's `db_worker`, after starting the housekeeping chains."""

from typing import Any

from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from blogapi.core.housekeeping import housekeeping_schedule


class Command(DbWorkerCommand):
    help = (
        "Run the task worker (mail, housekeeping): db_worker's options, after scheduling any "
        "periodic job without a live chain."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        housekeeping_schedule()
        super().handle(*args, **options)
