"""App config for accounts (label `accounts`, so the user model is `accounts.User`)."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "blogapi.accounts"
    label = "accounts"

    def ready(self) -> None:
        from blogapi.accounts import (  # noqa: F401  (receivers, the scheme, periodic purges)
            housekeeping,
            schema,
            signals,
        )
