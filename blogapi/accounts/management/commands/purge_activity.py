"""`manage.py purge_activity`: drop activity past AUTH_ACTIVITY_RETENTION (as the worker does)."""

from typing import Any

from django.core.management.base import BaseCommand

from blogapi.accounts.services.activity import activity_purge_expired


class Command(BaseCommand):
    help = "Delete security activity rows older than AUTH_ACTIVITY_RETENTION (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = activity_purge_expired()
        self.stdout.write(f"Deleted {deleted} activity row(s).")
