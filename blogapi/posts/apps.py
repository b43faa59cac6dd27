"""App config for posts."""

from django.apps import AppConfig


class PostsConfig(AppConfig):
    name = "blogapi.posts"
    label = "posts"

    def ready(self) -> None:
        from blogapi.accounts.services.export import ExportSection, export_section_register
        from blogapi.posts import signals  # noqa: F401  (connects receivers)
        from blogapi.posts.selectors import post_list_for_export

        # The account export holds the account's posts (accounts cannot import posts).
        export_section_register(ExportSection("posts", post_list_for_export, many=True))
