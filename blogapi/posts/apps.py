"""App config for posts."""

from django.apps import AppConfig


class PostsConfig(AppConfig):
    name = "blogapi.posts"
    label = "posts"
