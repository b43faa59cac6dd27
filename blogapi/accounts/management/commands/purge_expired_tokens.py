"""`manage.py purge_expired_tokens`: delete expired per-device tokens (run it daily, e.g. cron)."""

from typing import Any

from django.core.management.base import BaseCommand

from blogapi.accounts.services.credentials import device_token_purge_expired


class Command(BaseCommand):
    help = "Delete per-device tokens past their absolute lifetime or idle timeout."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = device_token_purge_expired()
        self.stdout.write(f"Deleted {deleted} expired token(s).")
