"""The users endpoint: read-only public profiles for signed-in callers."""

import pytest
from rest_framework.test import APIClient

from blogapi.accounts.models import User


def test_users_are_listed_with_id_and_username_only(
    alice_client: APIClient, alice: User, bob: User
) -> None:
    response = alice_client.get("/api/v1/users/")

    assert response.status_code == 200
    assert response.json()["results"] == [
        {"id": alice.pk, "username": "alice"},
        {"id": bob.pk, "username": "bob"},
    ]


def test_one_user_is_shown_with_id_and_username(alice_client: APIClient, bob: User) -> None:
    response = alice_client.get(f"/api/v1/users/{bob.pk}/")

    assert response.json() == {"id": bob.pk, "username": "bob"}


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_users_cannot_be_changed_or_deleted(
    alice_client: APIClient, bob: User, method: str
) -> None:
    response = getattr(alice_client, method)(
        f"/api/v1/users/{bob.pk}/", {"username": "hacked"}, format="json"
    )

    assert response.status_code == 405
    assert "GET" in response["Allow"]
    bob.refresh_from_db()
    assert bob.username == "bob"


def test_users_cannot_be_created(alice_client: APIClient) -> None:
    response = alice_client.post("/api/v1/users/", {"username": "x"}, format="json")

    assert response.status_code == 405
    assert User.objects.count() == 1


@pytest.mark.parametrize("path", ["/api/v1/users/", "/api/v1/users/1/"])
def test_users_need_authentication(api_client: APIClient, alice: User, path: str) -> None:
    response = api_client.get(path)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_unknown_user_is_a_404(alice_client: APIClient) -> None:
    assert alice_client.get("/api/v1/users/987654/").status_code == 404
