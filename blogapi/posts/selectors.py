"""Reads of posts."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from blogapi.core.pagination import NewestFirstCursorPagination
from blogapi.core.prepared import PreparedQuery, read_ahead
from blogapi.posts.models import Post


def post_list() -> QuerySet[Post]:
    """All posts with their author in the same query, newest first."""
    return Post.objects.select_related("author").only(
        "id", "title", "body", "created_at", "updated_at", "author__id", "author__username"
    )


@dataclass(frozen=True, slots=True)
class AuthorSummary:
    """The author fields a list item shows."""

    id: int
    username: str


@dataclass(frozen=True, slots=True)
class PostSummary:
    """A list item read as plain values: the attributes PostSerializer and the paginator read.

    Building a Post and a deferred User per row cost ~25 us on SQLite, more than the rest of
    a list item (docs/benchmarks.md); writes always go through Post.
    """

    id: int
    title: str
    body: str
    created_at: datetime
    updated_at: datetime
    author: AuthorSummary

    @property
    def pk(self) -> int:
        return self.id

    @property
    def author_id(self) -> int:
        return self.author.id


# The two reads every client repeats most, compiled once (blogapi.core.prepared): a post by id,
# and the first page of the list per page size (1 to max_page_size + 1 rows, so a bounded set).
_POST_BY_ID: PreparedQuery[Post] = PreparedQuery(lambda pk: post_list().filter(pk=pk), int)
_NEWEST_POSTS: dict[int, PreparedQuery[Post]] = {}
_SUMMARY_COLUMNS = (
    "id",
    "title",
    "body",
    "created_at",
    "updated_at",
    "author_id",
    "author__username",
)


def _id_fits(pk: int) -> bool:
    low, high = connection.ops.integer_field_range(Post._meta.pk.get_internal_type())
    return low is None or high is None or low <= pk <= high


def post_by_id(pk: int, *, request: Any = None) -> Post | None:
    """The post with this id and its author, or None (also for ids no column can hold).

    `request`: where read_post_by_id_ahead asked for it (blogapi.core.prepared.read_ahead).
    """
    if not _id_fits(pk):
        return None
    found = _POST_BY_ID.fetch(pk, request=request)
    return found[0] if found else None


def read_post_by_id_ahead(request: Any, pk: int) -> None:
    """Have post_by_id(pk, request=request) read with the request's token lookup."""
    if _id_fits(pk):
        read_ahead(request, _POST_BY_ID, pk)


def _newest_posts_query(limit: int) -> PreparedQuery[Post]:
    if not 1 <= limit <= NewestFirstCursorPagination.max_page_size + 1:
        raise ValueError(f"limit {limit} is outside the paginator's range")
    query = _NEWEST_POSTS.get(limit)
    if query is None:
        ordering = NewestFirstCursorPagination.ordering
        query = PreparedQuery(
            lambda: Post.objects.order_by(*ordering).values_list(*_SUMMARY_COLUMNS)[:limit]
        )
        _NEWEST_POSTS[limit] = query
    return query


def newest_posts(limit: int, request: Any = None) -> list[PostSummary]:
    """The first `limit` posts in the list's order (NewestFirstCursorPagination.ordering).

    `request`: where read_newest_posts_ahead asked for them (blogapi.core.prepared.read_ahead).
    """
    return [
        PostSummary(pk, title, body, created, updated, AuthorSummary(author_id, username))
        for pk, title, body, created, updated, author_id, username in _newest_posts_query(
            limit
        ).fetch(request=request)
    ]


def read_newest_posts_ahead(request: Any, limit: int) -> None:
    """Have newest_posts(limit, request) read with the request's token lookup."""
    read_ahead(request, _newest_posts_query(limit))
