"""Reads of posts."""

from django.db.models import QuerySet

from blogapi.posts.models import Post


def post_list() -> QuerySet[Post]:
    """All posts with their author in the same query, newest first."""
    return Post.objects.select_related("author").only(
        "id", "title", "body", "created_at", "updated_at", "author__id", "author__username"
    )
