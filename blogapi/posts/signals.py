"""Signal receivers: every write that changes a post read replaces the cache's version."""

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from blogapi.accounts.models import User, account_erasing
from blogapi.posts.models import Post
from blogapi.posts.read_cache import posts_changed
from blogapi.posts.services import posts_delete_for_author


@receiver(post_save, sender=Post)
@receiver(post_delete, sender=Post)
def post_written(**kwargs: Any) -> None:
    posts_changed()


@receiver(post_save, sender=User)
def author_saved(update_fields: frozenset[str] | None = None, **kwargs: Any) -> None:
    # Posts show their author's username; the many saves of other fields (last login) do not.
    if update_fields is None or "username" in update_fields:
        posts_changed()


@receiver(account_erasing)
def posts_erase_with_their_author(sender: Any, user: User, **kwargs: Any) -> None:
    """Before the cascade, which would load every post of the account to send post_delete."""
    posts_delete_for_author(author=user)
