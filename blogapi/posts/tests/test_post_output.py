"""PostSerializer's hand-built output is exactly what its declared fields would produce."""

from datetime import UTC, datetime
from typing import Any

import pytest
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from blogapi.posts.models import Post
from blogapi.posts.selectors import PostSummary, post_list
from blogapi.posts.serializers import PostSerializer


class FieldByFieldPostSerializer(PostSerializer):
    """DRF's own representation of the same declared fields: the reference."""

    def to_representation(self, instance: Post | PostSummary) -> Any:
        return serializers.ModelSerializer.to_representation(self, instance)


def as_json(data: Any) -> bytes:
    return JSONRenderer().render(data)


@pytest.mark.parametrize("body", ["Text", "", "ünïcødé \u2028 <b>&</b>", "x" * 10_000])
def test_post_output_matches_the_declared_fields(alice: User, body: str) -> None:
    Post.objects.create(author=alice, title="T" * 50, body=body)
    posts = list(post_list())

    assert as_json(PostSerializer(posts, many=True).data) == as_json(
        FieldByFieldPostSerializer(posts, many=True).data
    )


def test_created_and_updated_posts_answer_in_the_same_shape(
    alice_client: APIClient, alice: User
) -> None:
    created = alice_client.post("/api/v1/", {"title": "Hi", "body": "There"}, format="json")
    updated = alice_client.patch(f"/api/v1/{created.json()['id']}/", {"body": "Edited"})

    post = post_list().get(pk=created.json()["id"])
    assert updated.json() == FieldByFieldPostSerializer(post).data
    assert created.json()["author"] == {"id": alice.pk, "username": "alice"}


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 28, 1, 2, 3, tzinfo=UTC),
        datetime(2026, 11, 28, 1, 2, 3, 4, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_timestamps_are_written_as_drf_writes_them(alice: User, moment: datetime) -> None:
    post = Post.objects.create(author=alice, title="T", body="B")
    Post.objects.filter(pk=post.pk).update(created_at=moment, updated_at=moment)
    posts = list(post_list())

    assert as_json(PostSerializer(posts, many=True).data) == as_json(
        FieldByFieldPostSerializer(posts, many=True).data
    )
    written = PostSerializer(posts[0]).data
    assert written["created_at"] == written["updated_at"] == as_json(moment).decode().strip('"')
