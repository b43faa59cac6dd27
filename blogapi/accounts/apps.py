"""App config for accounts (label `accounts`, so the user model is `accounts.User`)."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "blogapi.accounts"
    label = "accounts"
