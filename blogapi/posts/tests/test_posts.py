"""Posts through the HTTP API: CRUD by the author, refusals for others and anonymous callers."""

from datetime import UTC, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from blogapi.posts.models import Post

LIST = "/api/v1/"


def detail(pk: int) -> str:
    return f"/api/v1/{pk}/"


@pytest.fixture
def alices_post(alice: User) -> Post:
    return Post.objects.create(author=alice, title="Hello", body="First post")


def test_create_post_sets_the_caller_as_author(alice_client: APIClient, alice: User) -> None:
    response = alice_client.post(LIST, {"title": "Hi", "body": "There"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["author"] == {"id": alice.pk, "username": "alice"}
    assert set(body) == {"id", "author", "title", "body", "created_at", "updated_at"}
    assert Post.objects.get(pk=body["id"]).author == alice


def test_create_post_ignores_a_forged_author(alice_client: APIClient, bob: User) -> None:
    response = alice_client.post(
        LIST, {"title": "Hi", "body": "x", "author": bob.pk}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["author"]["username"] == "alice"
    assert not Post.objects.filter(author=bob).exists()


def test_update_cannot_move_a_post_to_another_author(
    alice_client: APIClient, alices_post: Post, bob: User
) -> None:
    response = alice_client.patch(
        detail(alices_post.pk), {"author": {"id": bob.pk}, "title": "Edited"}, format="json"
    )

    assert response.status_code == 200
    alices_post.refresh_from_db()
    assert alices_post.title == "Edited"
    assert alices_post.author.username == "alice"


def test_author_reads_updates_and_deletes_their_post(
    alice_client: APIClient, alices_post: Post
) -> None:
    url = detail(alices_post.pk)

    assert alice_client.get(url).json()["title"] == "Hello"
    put = alice_client.put(url, {"title": "New", "body": "Whole"}, format="json")
    assert put.status_code == 200
    assert put.json()["body"] == "Whole"
    patch = alice_client.patch(url, {"body": "Part"}, format="json")
    assert patch.status_code == 200
    assert patch.json()["title"] == "New"
    assert alice_client.delete(url).status_code == 204
    assert not Post.objects.filter(pk=alices_post.pk).exists()
    assert alice_client.get(url).status_code == 404


def test_other_user_reads_but_cannot_change_a_post(
    bob_client: APIClient, alices_post: Post
) -> None:
    url = detail(alices_post.pk)

    assert bob_client.get(url).status_code == 200
    for method, data in (("put", {"title": "x", "body": "y"}), ("patch", {"title": "x"})):
        response = getattr(bob_client, method)(url, data, format="json")
        assert response.status_code == 403, method
    assert bob_client.delete(url).status_code == 403
    alices_post.refresh_from_db()
    assert alices_post.title == "Hello"


@pytest.mark.parametrize(
    ("method", "path_kind"),
    [
        ("get", "list"),
        ("post", "list"),
        ("get", "detail"),
        ("put", "detail"),
        ("patch", "detail"),
        ("delete", "detail"),
    ],
)
def test_anonymous_callers_get_401_with_a_token_challenge(
    api_client: APIClient, alices_post: Post, method: str, path_kind: str
) -> None:
    url = LIST if path_kind == "list" else detail(alices_post.pk)

    response = getattr(api_client, method)(url, {"title": "x", "body": "y"}, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "detail" in response.json()
    assert Post.objects.count() == 1


def test_list_is_paginated_newest_first(alice_client: APIClient, alice: User) -> None:
    for i in range(25):
        Post.objects.create(author=alice, title=f"post {i}", body="b")

    first = alice_client.get(LIST).json()
    assert set(first) == {"next", "previous", "results"}
    assert [p["title"] for p in first["results"][:3]] == ["post 24", "post 23", "post 22"]
    assert len(first["results"]) == 20
    assert first["previous"] is None

    second = alice_client.get(first["next"]).json()
    assert [p["title"] for p in second["results"]] == [f"post {i}" for i in range(4, -1, -1)]
    assert second["next"] is None


def test_page_size_is_chosen_by_the_client_up_to_100(alice_client: APIClient, alice: User) -> None:
    Post.objects.bulk_create(Post(author=alice, title=f"p{i}", body="b") for i in range(120))

    assert len(alice_client.get(LIST, {"page_size": 5}).json()["results"]) == 5
    assert len(alice_client.get(LIST, {"page_size": 1000}).json()["results"]) == 100


def test_a_garbage_cursor_is_a_404_not_a_crash(alice_client: APIClient, alices_post: Post) -> None:
    response = alice_client.get(LIST, {"cursor": "not-a-cursor\x00"})

    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid cursor"}


def test_walking_the_pages_sees_every_post_once_even_with_equal_timestamps(
    alice_client: APIClient, posts: list[Post]
) -> None:
    seen, url = [], f"{LIST}?page_size=4"
    while url:
        page = alice_client.get(url).json()
        seen += [post["id"] for post in page["results"]]
        url = page["next"]

    newest_first = Post.objects.order_by("-created_at", "-id").values_list("id", flat=True)
    assert seen == list(newest_first)


def test_an_empty_list_has_no_next_page(alice_client: APIClient) -> None:
    response = alice_client.get(LIST)

    assert response.json() == {"next": None, "previous": None, "results": []}


def test_a_new_post_is_on_the_first_page_at_once(
    alice_client: APIClient, posts: list[Post]
) -> None:
    created = alice_client.post(LIST, {"title": "Fresh", "body": "x"}, format="json")

    assert alice_client.get(LIST).json()["results"][0]["id"] == created.json()["id"]


@pytest.mark.parametrize(
    ("moment", "written"),
    [
        (datetime(2026, 11, 28, 1, 2, 3, tzinfo=UTC), "2026-11-28T01:02:03Z"),
        (datetime(2026, 11, 28, 1, 2, 3, 4, tzinfo=UTC), "2026-11-28T01:02:03.000004Z"),
    ],
)
def test_a_post_reads_as_its_id_author_text_and_utc_timestamps(
    alice_client: APIClient, alice: User, moment: datetime, written: str
) -> None:
    post = Post.objects.create(author=alice, title="Hello", body="ünïcødé <b>&</b>")
    Post.objects.filter(pk=post.pk).update(created_at=moment, updated_at=moment)
    expected = {
        "id": post.pk,
        "author": {"id": alice.pk, "username": "alice"},
        "title": "Hello",
        "body": "ünïcødé <b>&</b>",
        "created_at": written,
        "updated_at": written,
    }

    assert alice_client.get(detail(post.pk)).json() == expected
    assert alice_client.get(LIST).json()["results"] == [expected]


def test_detail_answers_like_the_list(alice_client: APIClient, posts: list[Post]) -> None:
    listed = alice_client.get(LIST, {"page_size": 100}).json()["results"]

    for item in listed[:5]:
        assert alice_client.get(detail(item["id"])).json() == item


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"body": "no title"}, "title"),
        ({"title": "no body"}, "body"),
        ({"title": "x" * 51, "body": "b"}, "title"),
        ({"title": ["a list"], "body": "b"}, "title"),
        ({"title": {"a": "dict"}, "body": "b"}, "title"),
        ({"title": None, "body": "b"}, "title"),
        ({"title": "nul\x00byte", "body": "b"}, "title"),
        ({"title": "t", "body": "nul\x00byte"}, "body"),
    ],
)
def test_invalid_post_is_a_400_naming_the_field(
    alice_client: APIClient, payload: dict[str, Any], field: str
) -> None:
    response = alice_client.post(LIST, payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert Post.objects.count() == 0


def test_title_of_exactly_50_characters_is_accepted(alice_client: APIClient) -> None:
    response = alice_client.post(LIST, {"title": "x" * 50, "body": "b"}, format="json")

    assert response.status_code == 201


def test_malformed_json_is_a_400(alice_client: APIClient) -> None:
    response = alice_client.post(LIST, '{"title": "x", ', content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_json_that_is_not_an_object_is_a_400(alice_client: APIClient) -> None:
    response = alice_client.post(LIST, "[1, 2]", content_type="application/json")

    assert response.status_code == 400
    assert Post.objects.count() == 0


def test_unsupported_content_type_is_a_415(alice_client: APIClient) -> None:
    response = alice_client.post(LIST, "title=x", content_type="text/plain")

    assert response.status_code == 415
    assert "detail" in response.json()


def test_missing_post_is_a_json_404(alice_client: APIClient) -> None:
    response = alice_client.get(detail(999999))

    assert response.status_code == 404
    assert response.json() == {"detail": "No Post matches the given query."}


def test_unknown_url_is_a_json_404(alice_client: APIClient) -> None:
    response = alice_client.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("pk", [2**63 - 1, 2**63, 99999999999999999999, 10**30])
def test_an_id_no_post_can_have_is_a_json_404(alice_client: APIClient, pk: int) -> None:
    response = alice_client.get(detail(pk))

    assert response.status_code == 404
    assert response.json() == {"detail": "No Post matches the given query."}
