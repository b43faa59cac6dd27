"""PostgreSQL: a token read's rows travel with its token lookup, and answer exactly as before."""

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from blogapi.accounts.models import DeviceToken, User
from blogapi.core.prepared import PreparedQuery, read_ahead
from blogapi.posts.models import Post
from conftest import PASSWORD, login, token_client

pytestmark = [
    # Outside a test transaction: inside one, each query goes on its own (nothing prepared).
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL only (make pytest-postgres)"
    ),
]


def answered(client: APIClient, path: str, method: str = "get") -> tuple[int, Any, int]:
    """Status, JSON body and round trips of one request."""
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(path)
    body = response.json() if response.content else None
    return response.status_code, body, len(queries)


def one_by_one(client: APIClient, path: str) -> tuple[int, Any]:
    """The same request where every query goes on its own (in a transaction)."""
    with transaction.atomic():
        response = client.get(path)
    return response.status_code, response.json()


@pytest.mark.parametrize(
    "query", ["", "?page_size=1", "?page_size=7", "?page_size=100", "?page_size=0"]
)
def test_the_first_page_comes_in_one_round_trip_with_the_same_answer(
    alice_client: APIClient, posts: list[Post], query: str
) -> None:
    alice_client.get(f"/api/v1/{query}")  # prepares the statements

    status, body, round_trips = answered(alice_client, f"/api/v1/{query}")

    assert (status, body) == one_by_one(alice_client, f"/api/v1/{query}")
    assert round_trips == 1
    assert body["results"]


def test_a_post_comes_in_one_round_trip_and_a_missing_one_is_404(
    alice_client: APIClient, posts: list[Post]
) -> None:
    path = f"/api/v1/{posts[3].pk}/"
    alice_client.get(path)

    status, body, round_trips = answered(alice_client, path)
    missing = answered(alice_client, f"/api/v1/{posts[-1].pk + 1000}/")
    beyond_any_id = answered(alice_client, f"/api/v1/{10**30}/")

    assert (status, body) == one_by_one(alice_client, path)
    assert round_trips == 1
    assert body["title"] == "Post 3"
    assert missing == (404, {"detail": "No Post matches the given query."}, 1)
    assert beyond_any_id[:2] == (404, {"detail": "No Post matches the given query."})


def test_head_reads_ahead_like_get(alice_client: APIClient, posts: list[Post]) -> None:
    alice_client.get("/api/v1/")

    status, _, round_trips = answered(alice_client, "/api/v1/", method="head")

    assert (status, round_trips) == (200, 1)


def test_later_pages_and_writes_go_their_own_way(
    alice_client: APIClient, posts: list[Post]
) -> None:
    next_page = alice_client.get("/api/v1/?page_size=5").json()["next"]

    status, body, round_trips = answered(alice_client, next_page)
    created = alice_client.post("/api/v1/", {"title": "New", "body": "B"}, format="json")

    assert (status, body) == one_by_one(alice_client, next_page)
    assert round_trips == 2  # the token, then DRF's cursor page
    assert created.status_code == 201
    assert alice_client.get("/api/v1/").json()["results"][0]["title"] == "New"


@pytest.mark.parametrize(
    "refusal",
    [
        ("revoked", "Invalid token."),
        ("expired", "Token has expired."),
        ("inactive", "User inactive or deleted."),
    ],
)
def test_a_refused_token_gets_401_and_none_of_the_rows_read_with_it(
    alice: User, posts: list[Post], refusal: tuple[str, str]
) -> None:
    how, message = refusal
    client = token_client(login(APIClient(), "alice"))
    client.get("/api/v1/")
    token = DeviceToken.objects.get(user=alice)
    if how == "revoked":
        token.delete()
    elif how == "expired":
        DeviceToken.objects.filter(pk=token.pk).update(expires_at=timezone.now())
    else:
        User.objects.filter(pk=alice.pk).update(is_active=False)

    for path in ("/api/v1/", f"/api/v1/{posts[0].pk}/"):
        response = client.get(path)

        assert response.status_code == 401
        assert response.json() == {"detail": message}
        assert b"Post " not in response.content


def test_a_session_read_queries_for_itself(alice: User, posts: list[Post]) -> None:
    client = APIClient()
    assert client.login(username="alice", password=PASSWORD)

    status, body, _ = answered(client, "/api/v1/?page_size=3")

    assert status == 200
    assert [post["title"] for post in body["results"]] == [
        post["title"]
        for post in token_client(login(APIClient(), "alice"))
        .get("/api/v1/?page_size=3")
        .json()["results"]
    ]


def test_rows_read_ahead_serve_only_their_own_query_and_values_once(
    alice: User, posts: list[Post]
) -> None:
    by_id = PreparedQuery(lambda pk: Post.objects.filter(pk=pk), int)
    other = PreparedQuery(lambda pk: Post.objects.filter(pk=pk), int)
    request = type("Request", (), {})()
    read_ahead(request, by_id, posts[0].pk)
    mine = PreparedQuery(lambda pk: User.objects.filter(pk=pk), int)
    assert [user.pk for user in mine.fetch_with_read_ahead(request, alice.pk)] == [alice.pk]

    with CaptureQueriesContext(connection) as queries:
        assert [p.pk for p in other.fetch(posts[0].pk, request=request)] == [posts[0].pk]
        assert [p.pk for p in by_id.fetch(posts[1].pk, request=request)] == [posts[1].pk]
    assert len(queries) == 2  # neither was what was read ahead
    with CaptureQueriesContext(connection) as queries:
        assert [p.pk for p in by_id.fetch(posts[0].pk, request=request)] == [posts[0].pk]
        assert [p.pk for p in by_id.fetch(posts[0].pk, request=request)] == [posts[0].pk]
    assert len(queries) == 1  # taken once, then asked again
