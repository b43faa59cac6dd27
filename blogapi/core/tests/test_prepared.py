"""Prepared queries give exactly what the ORM gives, compile once, and refuse unsafe shapes."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from blogapi.accounts.models import DeviceToken, User
from blogapi.core.prepared import PreparedQuery
from blogapi.posts.models import Post

pytestmark = pytest.mark.django_db


def posts_by_author(author_id: int) -> Any:
    return Post.objects.select_related("author").filter(author_id=author_id).order_by("id")


def test_model_rows_match_the_orm_with_related_objects_loaded(alice: User, bob: User) -> None:
    for n in range(3):
        Post.objects.create(author=alice, title=f"A{n}", body="body")
    Post.objects.create(author=bob, title="B", body="body")
    prepared = PreparedQuery(posts_by_author, int)

    with CaptureQueriesContext(connection) as queries:
        found = prepared.fetch(alice.pk)
        authors = [post.author.username for post in found]  # no query: loaded with the posts

    assert len(queries) == 1
    assert authors == ["alice"] * 3
    expected = list(posts_by_author(alice.pk))
    assert [(p.pk, p.title, p.created_at, p.author_id) for p in found] == [
        (p.pk, p.title, p.created_at, p.author_id) for p in expected
    ]
    assert all(
        isinstance(post.created_at.tzinfo, type(expected[0].created_at.tzinfo)) for post in found
    )
    assert all(not post._state.adding and post._state.db == "default" for post in found)


def test_values_list_rows_are_converted_like_the_orms(alice: User) -> None:
    Post.objects.create(author=alice, title="T", body="B")
    columns = ("id", "title", "created_at", "author__username")
    prepared = PreparedQuery(
        lambda author_id: Post.objects.filter(author_id=author_id).values_list(*columns), int
    )

    assert prepared.fetch(alice.pk) == list(
        Post.objects.filter(author_id=alice.pk).values_list(*columns)
    )


def test_no_row_is_an_empty_list(db: None) -> None:
    prepared = PreparedQuery(lambda digest: DeviceToken.objects.filter(digest=digest), str)

    assert prepared.fetch("no-such-digest") == []


def test_sql_is_compiled_once_per_connection(alice: User) -> None:
    builds = []

    def build(author_id: int) -> Any:
        builds.append(author_id)
        return posts_by_author(author_id)

    prepared = PreparedQuery(build, int)
    for _ in range(3):
        prepared.fetch(alice.pk)

    assert len(builds) == 1
    assert builds[0] != alice.pk  # built with the sentinel, not a value


def test_values_are_parameters_never_sql(alice: User, user_factory: Any) -> None:
    odd = user_factory("o'd%d_1\\", email="odd@example.com")
    prepared = PreparedQuery(lambda name: User.objects.filter(username=name), str)

    assert prepared.fetch("alice' OR '1'='1") == []
    assert prepared.fetch("%") == []
    assert prepared.fetch("a_ice") == []
    assert [user.pk for user in prepared.fetch("alice")] == [alice.pk]
    assert [user.pk for user in prepared.fetch(odd.username)] == [odd.pk]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        # The argument never reaches the SQL parameters.
        (lambda name: User.objects.all(), "must appear once"),
        # The ORM changes it on the way: wrapped in %...% (and escaped on every database).
        (lambda name: User.objects.filter(username__icontains=name), "must appear once"),
        # A LIKE prefix: escaped and followed by % on every database.
        (lambda name: User.objects.filter(username__istartswith=name), "must appear once"),
        # Used twice.
        (
            lambda name: User.objects.filter(username=name) | User.objects.filter(email=name),
            "must appear once",
        ),
        # Not a model or values_list() queryset.
        (lambda name: User.objects.filter(username=name).values(), "only model"),
    ],
)
def test_shapes_it_cannot_substitute_safely_are_refused(db: None, build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PreparedQuery(build, str).fetch("value")


def test_values_must_match_the_declared_types(db: None) -> None:
    with pytest.raises(TypeError, match="str or int"):
        PreparedQuery(lambda when: User.objects.filter(last_login=when), float)  # type: ignore[arg-type]
    prepared = PreparedQuery(lambda a, b: User.objects.filter(username=a, pk=b), str, int)
    for values in [("only-one",), ("a", "1"), ("a", True), (1, 1), ("a", 1, 2)]:
        with pytest.raises(TypeError, match="expected values of types"):
            prepared.fetch(*values)
    assert prepared.fetch("nobody", 1) == []
