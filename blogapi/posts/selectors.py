"""Reads of posts."""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet

from blogapi.core.pagination import NewestFirstCursorPagination
from blogapi.core.prepared import PreparedQuery
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


def post_by_id(pk: int) -> Post | None:
    """The post with this id and its author, or None (also for ids no column can hold)."""
    low, high = connection.ops.integer_field_range(Post._meta.pk.get_internal_type())
    if low is not None and high is not None and not low <= pk <= high:
        return None
    found = _POST_BY_ID.fetch(pk)
    return found[0] if found else None


def newest_posts(limit: int) -> list[PostSummary]:
    """The first `limit` posts in the list's order (NewestFirstCursorPagination.ordering)."""
    if not 1 <= limit <= NewestFirstCursorPagination.max_page_size + 1:
        raise ValueError(f"limit {limit} is outside the paginator's range")
    query = _NEWEST_POSTS.get(limit)
    if query is None:
        ordering = NewestFirstCursorPagination.ordering
        query = PreparedQuery(
            lambda: Post.objects.order_by(*ordering).values_list(*_SUMMARY_COLUMNS)[:limit]
        )
        _NEWEST_POSTS[limit] = query
    return [
        PostSummary(pk, title, body, created, updated, AuthorSummary(author_id, username))
        for pk, title, body, created, updated, author_id, username in query.fetch()
    ]
