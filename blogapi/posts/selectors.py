"""Reads of posts."""

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from blogapi.accounts.services.export import ExportRequest
from blogapi.posts.models import Post


def post_list() -> QuerySet[Post]:
    """All posts with their author in the same query, newest first."""
    return Post.objects.select_related("author").only(
        "id", "title", "body", "created_at", "updated_at", "author__id", "author__username"
    )


# Rows fetched per round trip while an export streams (blogapi.accounts.services.export).
EXPORT_CHUNK_SIZE = 2000


def post_list_for_export(export: ExportRequest) -> Iterator[dict[str, Any]]:
    """Every post of the exporting account, oldest first, read a chunk at a time: memory stays
    flat at any count (100,000 posts: docs/benchmarks.md)."""
    posts = Post.objects.filter(author=export.user).order_by("pk")
    fields = ("id", "title", "body", "created_at", "updated_at")
    return posts.values(*fields).iterator(chunk_size=EXPORT_CHUNK_SIZE)
