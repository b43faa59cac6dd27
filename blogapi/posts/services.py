"""Writes of posts beyond the API's own create/update/delete: demo and benchmark data."""

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from blogapi.accounts.models import User
from blogapi.posts.models import Post
from blogapi.posts.read_cache import posts_changed

DEMO_BATCH_SIZE = 5000


@transaction.atomic
def demo_user_ensure(*, username: str, password: str | None) -> tuple[User, bool]:
    """The user `username`, created with `password` and a verified primary address if missing.

    An existing user is returned untouched (its password is never overwritten); the flag says
    whether the user was created. There is no default password: nobody gets a guessable account.
    """
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user, False
    if password is None:
        raise ValidationError(
            f"User {username!r} does not exist: a password is needed to create it."
        )
    email = f"{username}@example.com"
    user = User(username=username, email=email)
    validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    user.save()
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user, True


@transaction.atomic
def demo_posts_ensure(*, user: User, count: int) -> int:
    """Leave exactly `count` posts by `user`: add numbered ones or delete the oldest surplus.

    Returns the change in the number of posts (positive: added, negative: deleted).
    """
    if count < 0:
        raise ValueError("count must be zero or more")
    posts = Post.objects.filter(author=user)
    existing = posts.count()
    if existing > count:
        surplus = list(posts.order_by("-created_at", "-id").values_list("pk", flat=True)[count:])
        for start in range(0, len(surplus), DEMO_BATCH_SIZE):
            _posts_delete(surplus[start : start + DEMO_BATCH_SIZE])
    for start in range(existing, count, DEMO_BATCH_SIZE):
        _posts_insert(user, range(start + 1, min(start + DEMO_BATCH_SIZE, count) + 1), count)
    if existing != count:
        posts_changed()  # neither the raw insert nor the subquery DELETE sends signals
    return count - existing


def posts_delete_for_author(*, author: User) -> int:
    """Delete every post of `author` in batches, without loading them, and replace the read
    cache's version once; how many there were (an erased account's posts: its CASCADE)."""
    deleted = 0
    posts = Post.objects.filter(author=author).order_by("pk").values_list("pk", flat=True)
    while batch := list(posts[:DEMO_BATCH_SIZE]):
        _posts_delete(batch)
        deleted += len(batch)
    if deleted:
        posts_changed()
    return deleted


def _posts_insert(user: User, numbers: range, count: int) -> None:
    """Insert posts `numbers`, post n dated (count - n) seconds ago: one per second, newest last.

    A parametrised executemany, not bulk_create: at 100,000 posts bulk_create spends ~9.7 s in
    per-field Python preparation, this ~2.2 s (SQLite). Distinct timestamps keep the cursor
    pagination's positions unique, as real posts' are.
    """
    now, adapt = timezone.now(), connection.ops.adapt_datetimefield_value
    rows = []
    for n in numbers:
        at = adapt(now - timedelta(seconds=count - n))
        rows.append((user.pk, f"Demo post {n}", f"Body of demo post {n}.", at, at))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {Post._meta.db_table} "  # noqa: S608 - the table name is ours
            "(author_id, title, body, created_at, updated_at) VALUES (%s, %s, %s, %s, %s)",
            rows,
        )


def _posts_delete(pks: list[int]) -> None:
    """Delete these posts in one statement, without loading them.

    Raw, like the insert: QuerySet.delete() loads every row to send post_delete (the read cache
    listens), and the one cache update for the whole batch is made by the caller.
    """
    placeholders = ", ".join(["%s"] * len(pks))
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {Post._meta.db_table} WHERE id IN ({placeholders})",  # noqa: S608
            pks,
        )
