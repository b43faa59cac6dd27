"""`manage.py purge_rate_limits`: delete closed rate-limit windows from the database."""

from typing import Any

from django.core.management.base import BaseCommand

from blogapi.core.ratelimit import purge_expired


class Command(BaseCommand):
    help = "Delete rate-limit counters whose window has closed (database backend only)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Deleted {purge_expired()} closed rate-limit window(s).")
