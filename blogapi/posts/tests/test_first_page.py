"""The list's first page and a post's detail come from prepared queries: same answers as DRF's."""

import pytest
from rest_framework.test import APIClient

from blogapi.posts.models import Post
from blogapi.posts.views import PostPagination


@pytest.mark.parametrize(
    "query", ["", "?page_size=1", "?page_size=7", "?page_size=100", "?page_size=0"]
)
def test_the_first_page_matches_the_querysets_page(
    alice_client: APIClient, posts: list[Post], monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    prepared = alice_client.get(f"/api/v1/{query}")
    monkeypatch.setattr(PostPagination, "newest", None)  # DRF's own paginate_queryset
    orm = alice_client.get(f"/api/v1/{query}")

    assert prepared.status_code == orm.status_code == 200
    assert prepared.json() == orm.json()
    assert prepared.json()["results"]


def test_walking_on_from_the_first_page_sees_every_post_once(
    alice_client: APIClient, posts: list[Post]
) -> None:
    seen, url = [], "/api/v1/?page_size=4"
    while url:
        page = alice_client.get(url).json()
        seen += [post["id"] for post in page["results"]]
        url = page["next"]

    newest_first = Post.objects.order_by("-created_at", "-id").values_list("id", flat=True)
    assert seen == list(newest_first)


def test_an_empty_list_has_no_next_page(alice_client: APIClient) -> None:
    response = alice_client.get("/api/v1/")

    assert response.json() == {"next": None, "previous": None, "results": []}


def test_a_new_post_is_on_the_first_page_at_once(
    alice_client: APIClient, posts: list[Post]
) -> None:
    created = alice_client.post("/api/v1/", {"title": "Fresh", "body": "x"}, format="json")

    assert alice_client.get("/api/v1/").json()["results"][0]["id"] == created.json()["id"]


@pytest.mark.parametrize("pk", [2**63, 10**30, 2**63 - 1])
def test_an_id_no_column_can_hold_is_a_json_404(alice_client: APIClient, pk: int) -> None:
    response = alice_client.get(f"/api/v1/{pk}/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No Post matches the given query."}


def test_detail_answers_like_the_list(alice_client: APIClient, posts: list[Post]) -> None:
    listed = alice_client.get("/api/v1/?page_size=100").json()["results"]

    for item in listed[:5]:
        assert alice_client.get(f"/api/v1/{item['id']}/").json() == item
