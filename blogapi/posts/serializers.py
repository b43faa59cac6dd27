"""Post input and output shapes."""

from rest_framework import serializers

from blogapi.accounts.serializers import UserOutputSerializer
from blogapi.posts.models import Post


class PostSerializer(serializers.ModelSerializer):
    """Title and body are writable; author is always the caller (the book let clients set it)."""

    author = UserOutputSerializer(read_only=True)

    class Meta:
        model = Post
        fields = ("id", "author", "title", "body", "created_at", "updated_at")
        read_only_fields = ("id", "author", "created_at", "updated_at")
