"""App config for the shared core package."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "blogapi.core"
    label = "core"

    def ready(self) -> None:
        from blogapi.core.mail import warn_when_mail_is_not_sent

        warn_when_mail_is_not_sent()
