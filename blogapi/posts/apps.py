"""App config for posts."""

from django.apps import AppConfig


class PostsConfig(AppConfig):
    name = "blogapi.posts"
    label = "posts"

    def ready(self) -> None:
        from blogapi.posts import signals  # noqa: F401  (connects receivers)
