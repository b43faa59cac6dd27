"""Post reads cached in Redis: no query when cached, and every write shows at the next read."""

import random
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from blogapi.posts import read_cache
from blogapi.posts.models import Post
from blogapi.posts.services import demo_posts_ensure
from conftest import login, token_client

needs_redis = pytest.mark.skipif(
    not django_settings.REDIS_URL, reason="post reads are cached only in a shared cache (Redis)"
)
UNREACHABLE_REDIS = {  # nothing listens there: every cache call fails at once
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    }
}


def uncached(client: APIClient, url: str) -> Any:
    """What the database says now, read past the cache."""
    with override_settings(REDIS_URL=""):
        response = client.get(url)
    return response.status_code, response.json()


def read(client: APIClient, url: str) -> Any:
    response = client.get(url)
    return response.status_code, response.json()


def post_queries(client: APIClient, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return sum(Post._meta.db_table in q["sql"] for q in captured.captured_queries)


@pytest.fixture
def bob_client(bob: User) -> APIClient:
    return token_client(login(APIClient(), "bob"))


def urls(post: Post) -> list[str]:
    return ["/api/v1/", "/api/v1/?page_size=2", f"/api/v1/{post.pk}/"]


def test_without_a_shared_cache_every_read_queries_the_database(
    alice_client: APIClient, posts: list[Post], settings: Any
) -> None:
    settings.REDIS_URL = ""
    for url in urls(posts[0]):
        assert [post_queries(alice_client, url) for _ in range(2)] == [1, 1]


@needs_redis
def test_a_repeated_read_is_answered_from_the_cache_without_a_query(
    alice_client: APIClient, posts: list[Post]
) -> None:
    for url in urls(posts[0]):
        assert [post_queries(alice_client, url) for _ in range(3)] == [1, 0, 0]
        assert read(alice_client, url) == uncached(alice_client, url)


@needs_redis
def test_the_cache_answers_only_callers_that_pass_authentication(
    alice_client: APIClient, posts: list[Post]
) -> None:
    for url in urls(posts[0]):
        read(alice_client, url)  # now cached
        assert APIClient().get(url).status_code == 401
        assert token_client("not-a-key").get(url).status_code == 401


def admin_delete(post: Post) -> None:
    staff = User.objects.create_superuser("root", "root@example.com", "a long admin passphrase")
    browser = Client()
    browser.force_login(staff)
    response = browser.post(f"/admin/posts/post/{post.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302, response.content


def rename(user: User) -> None:
    user.username = user.username + "2"
    user.save()


WRITES: dict[str, Callable[[APIClient, Post], Any]] = {
    "api create": lambda client, post: client.post("/api/v1/", {"title": "New", "body": "B"}),
    "api patch": lambda client, post: client.patch(f"/api/v1/{post.pk}/", {"title": "Changed"}),
    "api put": lambda client, post: client.put(
        f"/api/v1/{post.pk}/", {"title": "Put", "body": "Put body"}
    ),
    "api delete": lambda client, post: client.delete(f"/api/v1/{post.pk}/"),
    "orm save": lambda client, post: Post.objects.filter(pk=post.pk).get().save(),
    "orm create": lambda client, post: Post.objects.create(author=post.author, title="T", body="B"),
    "queryset delete": lambda client, post: Post.objects.filter(pk=post.pk).delete(),
    "admin delete": lambda client, post: admin_delete(post),
    "author renamed": lambda client, post: rename(post.author),
    "author deleted": lambda client, post: post.author.delete(),
    "demo data": lambda client, post: demo_posts_ensure(user=post.author, count=1),
}


@needs_redis
@pytest.mark.parametrize("write", list(WRITES))
def test_every_kind_of_post_write_shows_at_the_next_read(
    alice: User, alice_client: APIClient, bob_client: APIClient, posts: list[Post], write: str
) -> None:
    post = Post.objects.filter(author=alice).latest("created_at")
    reader = bob_client if write != "author deleted" else alice_client
    if write == "author deleted":
        post = Post.objects.exclude(author=alice).latest("created_at")
    before = {url: read(reader, url) for url in urls(post)}

    WRITES[write](alice_client, post)

    after = {url: read(reader, url) for url in urls(post)}
    assert after == {url: uncached(reader, url) for url in urls(post)}
    assert after != before


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_a_write_replaces_the_version_again_at_its_commit(alice: User) -> None:
    post = Post.objects.create(author=alice, title="T", body="B")
    with transaction.atomic():
        post.title = "Changed"
        post.save()
        # A reader now would store what it reads under this version: data from before the commit.
        during = cache.get(read_cache.VERSION_KEY)
        assert during is not None

    assert cache.get(read_cache.VERSION_KEY) != during


@needs_redis
def test_a_rolled_back_write_leaves_the_answers_true(
    alice_client: APIClient, posts: list[Post]
) -> None:
    url = "/api/v1/?page_size=3"
    read(alice_client, url)

    def write_then_fail() -> None:
        with transaction.atomic():
            Post.objects.filter(pk=posts[0].pk).get().save()
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        write_then_fail()

    assert read(alice_client, url) == uncached(alice_client, url)


@needs_redis
def test_a_write_during_an_outage_shows_once_the_version_expires(
    alice_client: APIClient, posts: list[Post], settings: Any
) -> None:
    settings.POSTS_CACHE_TTL = timedelta(seconds=1)
    cache.clear()
    url = f"/api/v1/{posts[0].pk}/"
    read(alice_client, url)

    with override_settings(CACHES=UNREACHABLE_REDIS):
        Post.objects.filter(pk=posts[0].pk).update(title="Written in the outage")
        Post.objects.filter(pk=posts[0].pk).get().save()  # cannot reach the cache
        assert read(alice_client, url)[1]["title"] == "Written in the outage"  # database

    time.sleep(1.1)
    assert read(alice_client, url)[1]["title"] == "Written in the outage"


@needs_redis
def test_cached_answers_match_the_database_through_random_writes_and_reads(
    alice: User, bob: User, alice_client: APIClient, bob_client: APIClient
) -> None:
    """An oracle: after every step, each read equals the same read past the cache."""
    rng = random.Random(15)  # reproducible
    clients = {alice.pk: alice_client, bob.pk: bob_client}
    for _ in range(60):
        posts = list(Post.objects.order_by("pk"))
        step = rng.choice(["create", "patch", "delete", "list", "detail", "walk"])
        client = rng.choice(list(clients.values()))
        if step == "create" or not posts:
            client.post("/api/v1/", {"title": f"T{rng.random()}"[:50], "body": "B"})
        elif step == "patch":
            post = rng.choice(posts)
            clients[post.author_id].patch(f"/api/v1/{post.pk}/", {"body": f"{rng.random()}"})
        elif step == "delete":
            post = rng.choice(posts)
            clients[post.author_id].delete(f"/api/v1/{post.pk}/")
        elif step == "detail":
            detail = f"/api/v1/{rng.choice(posts).pk}/"
            assert read(client, detail) == uncached(client, detail)
        else:
            page_url: str | None = f"/api/v1/?page_size={rng.randint(1, 4)}"
            while page_url:
                status, page = read(client, page_url)
                assert (status, page) == uncached(client, page_url)
                page_url = page["next"] if step == "walk" else None
