"""PostgreSQL reads timestamps with psycopg's C loader and gets exactly Django's values."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from blogapi.accounts.models import User
from blogapi.posts.models import Post

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL only (make pytest-postgres)"
    ),
]


def test_the_connection_uses_the_c_loader_and_django_keeps_it(alice: User) -> None:
    from psycopg.pq import Format

    connection.ensure_connection()
    oid = connection.connection.adapters.types["timestamptz"].oid
    loader = connection.connection.adapters.get_loader(oid, Format.TEXT)

    assert loader.__name__ == "UtcTimestamptzLoader"
    # Django re-registers its own loader on a cursor only when the time zones differ.
    with connection.cursor() as cursor:
        assert cursor.connection.adapters.get_loader(oid, Format.TEXT) is loader


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 27, 22, 33, 56, 121701, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
    ],
)
def test_timestamps_read_back_as_written_in_utc(alice: User, moment: datetime) -> None:
    post = Post.objects.create(author=alice, title="t", body="b")
    Post.objects.filter(pk=post.pk).update(created_at=moment)

    read = Post.objects.get(pk=post.pk).created_at
    with connection.cursor() as cursor:
        cursor.execute("SELECT created_at FROM posts_post WHERE id = %s", [post.pk])
        raw = cursor.fetchone()[0]

    assert read == raw == moment
    assert read.tzinfo is UTC
    assert raw.tzinfo is UTC
