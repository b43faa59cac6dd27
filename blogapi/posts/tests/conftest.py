"""Fixtures shared by the posts tests."""

from datetime import timedelta

import pytest
from django.utils import timezone

from blogapi.accounts.models import User
from blogapi.posts.models import Post


@pytest.fixture
def posts(alice: User, bob: User) -> list[Post]:
    """25 posts; some share a creation time, so the id breaks the tie."""
    now = timezone.now()
    created = Post.objects.bulk_create(
        Post(author=alice if n % 3 else bob, title=f"Post {n}", body=f"Body {n}") for n in range(25)
    )
    for n, post in enumerate(created):
        Post.objects.filter(pk=post.pk).update(created_at=now - timedelta(seconds=n // 4))
    return created
