"""`manage.py rotate_mfa_keys`: re-encrypt every TOTP secret under the first configured key."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from blogapi.accounts.services.mfa_secrets import mfa_secrets_reseal
from blogapi.core.env import derived_fernet_key


class Command(BaseCommand):
    help = (
        "Re-encrypt every TOTP secret under the first key of AUTH_MFA_ENCRYPTION_KEYS, after a new "
        "key was put first; then the old keys can be dropped from the list."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--show-default-key",
            action="store_true",
            help=(
                "Print the key derived from DJANGO_SECRET_KEY (used while AUTH_MFA_ENCRYPTION_KEYS "
                "is unset), to list it after a new key of your own; changes nothing."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["show_default_key"]:
            label = settings.AUTH_MFA_KEY_DERIVATION_LABEL
            self.stdout.write(derived_fernet_key(settings.SECRET_KEY, purpose=label))
            return
        result = mfa_secrets_reseal()
        self.stdout.write(f"Re-encrypted {result.resealed} TOTP secret(s) under the first key.")
        if result.unreadable:
            ids = ", ".join(str(pk) for pk in result.unreadable)
            raise CommandError(
                f"{len(result.unreadable)} TOTP secret(s) could not be decrypted with any key of "
                f"AUTH_MFA_ENCRYPTION_KEYS (authenticator ids: {ids}); add the missing key and "
                "run again, or have those users turn two-factor off with a recovery code."
            )
