"""Blog posts."""

from django.conf import settings
from django.db import models


class Post(models.Model):
    """A post written by one author; only the author may change it."""

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts"
    )
    title = models.CharField(max_length=50)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")
        # Matches the list's cursor ordering, so every page is an index range scan.
        indexes = [models.Index(fields=["-created_at", "-id"], name="post_newest_first")]

    def __str__(self) -> str:
        return self.title
