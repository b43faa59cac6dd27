"""`manage.py purge_expired_tokens`: delete expired tokens and JWT families (as the worker does)."""

from typing import Any

from django.core.management.base import BaseCommand

from blogapi.accounts.services.credentials import device_token_purge_expired
from blogapi.accounts.services.jwt_families import jwt_family_purge_expired


class Command(BaseCommand):
    help = "Delete device tokens and JWT sign-ins past their absolute lifetime or idle timeout."

    def handle(self, *args: Any, **options: Any) -> None:
        tokens = device_token_purge_expired()
        families = jwt_family_purge_expired()
        self.stdout.write(f"Deleted {tokens} expired token(s) and {families} JWT sign-in(s).")
