"""App config for the shared core package."""

from django.apps import AppConfig
from django.db.backends.signals import connection_created


class CoreConfig(AppConfig):
    name = "blogapi.core"
    label = "core"

    def ready(self) -> None:
        from blogapi.core.db import use_c_timestamp_loader

        connection_created.connect(use_c_timestamp_loader, dispatch_uid="core-c-timestamp-loader")
