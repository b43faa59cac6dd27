"""Post input and output shapes."""

from datetime import datetime
from typing import Any

from rest_framework import serializers

from blogapi.accounts.serializers import UserOutputSerializer
from blogapi.posts.models import Post
from blogapi.posts.selectors import PostSummary


class PostSerializer(serializers.ModelSerializer):
    """Title and body are writable; author is always the caller (the book let clients set it)."""

    author = UserOutputSerializer(read_only=True)

    class Meta:
        model = Post
        fields = ("id", "author", "title", "body", "created_at", "updated_at")
        read_only_fields = ("id", "author", "created_at", "updated_at")

    def to_representation(self, instance: Post | PostSummary) -> dict[str, Any]:
        # The declared fields' output, built directly: DRF builds both serializers' fields and
        # walks them field by field, ~1.4 ms of a 20-post page (docs/benchmarks.md). Datetimes
        # are written here as DRF's JSON encoder would (a call back from its C encoder per
        # value otherwise). test_post_output.py keeps this identical to DRF's own output.
        return {
            "id": instance.pk,
            "author": {"id": instance.author_id, "username": instance.author.username},
            "title": instance.title,
            "body": instance.body,
            "created_at": _iso_8601(instance.created_at),
            "updated_at": _iso_8601(instance.updated_at),
        }


def _iso_8601(moment: datetime) -> str:
    """DRF's ISO 8601 output for an aware datetime (rest_framework.utils.encoders)."""
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
