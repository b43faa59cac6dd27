"""`manage.py purge_deleted_accounts`: erase accounts past their grace (as the worker does)."""

from typing import Any

from django.core.management.base import BaseCommand

from blogapi.accounts.services.deletion import account_deletions_purge


class Command(BaseCommand):
    help = (
        "Erase every account whose deletion was asked AUTH_DELETION_GRACE ago and not cancelled "
        "by a sign-in since, with its posts. Safe to run twice, or twice at once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        erased = account_deletions_purge()
        self.stdout.write(f"Erased {erased} account(s).")
