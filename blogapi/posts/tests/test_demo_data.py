"""`manage.py demo_data`: exactly N posts by one user, who can log in through the API."""

import pytest
from allauth.account.models import EmailAddress
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from blogapi.posts.models import Post
from conftest import PASSWORD, login, token_client


def demo_data(posts: int, username: str = "demo", password: str | None = PASSWORD) -> None:
    options = {"posts": posts, "username": username}
    if password is not None:
        options["password"] = password
    call_command("demo_data", **options)


def test_demo_data_creates_a_user_who_can_log_in(db: None) -> None:
    demo_data(3)

    user = User.objects.get(username="demo")
    assert EmailAddress.objects.filter(user=user, primary=True, verified=True).exists()
    key = login(APIClient(), "demo")
    assert token_client(key).get("/api/v1/dj-rest-auth/user/").json()["username"] == "demo"


def test_demo_data_grows_and_shrinks_to_exactly_n_posts(alice: User) -> None:
    Post.objects.create(author=alice, title="Mine", body="Not a demo post")

    demo_data(30)
    assert Post.objects.filter(author__username="demo").count() == 30
    newest = set(
        Post.objects.filter(author__username="demo")
        .order_by("-created_at")[:7]
        .values_list("pk", flat=True)
    )

    demo_data(7)
    assert set(Post.objects.filter(author__username="demo").values_list("pk", flat=True)) == newest

    demo_data(12)
    assert Post.objects.filter(author__username="demo").count() == 12
    assert Post.objects.filter(author=alice).count() == 1


def test_demo_data_is_idempotent(db: None) -> None:
    demo_data(5)
    before = list(Post.objects.values_list("pk", "created_at"))

    demo_data(5)

    assert list(Post.objects.values_list("pk", "created_at")) == before
    assert User.objects.filter(username="demo").count() == 1


def test_demo_posts_are_listed_newest_first_one_page_after_another(db: None) -> None:
    demo_data(25)
    client = token_client(login(APIClient(), "demo"))

    first = client.get("/api/v1/?page_size=20").json()
    second = client.get(first["next"]).json()

    titles = [p["title"] for p in first["results"] + second["results"]]
    assert titles == [f"Demo post {n}" for n in range(25, 0, -1)]
    assert second["next"] is None


def test_demo_data_keeps_an_existing_users_password(alice: User) -> None:
    demo_data(2, username="alice", password="another long passphrase")

    assert login(APIClient(), "alice")
    assert Post.objects.filter(author=alice).count() == 2


@pytest.mark.parametrize(
    ("password", "message"),
    [(None, "a password is needed"), ("password1234", "too common"), ("short", "too short")],
)
def test_demo_data_refuses_to_create_a_user_without_a_good_password(
    db: None, password: str | None, message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        demo_data(1, password=password)

    assert not User.objects.filter(username="demo").exists()
