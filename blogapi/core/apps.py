"""App config for the shared core package."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "blogapi.core"
    label = "core"
