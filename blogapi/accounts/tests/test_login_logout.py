"""Login (username or e-mail), token and session use, logout and user details over HTTP."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from conftest import PASSWORD, login, token_client

LOGIN = "/api/v1/dj-rest-auth/login/"
LOGOUT = "/api/v1/dj-rest-auth/logout/"
ME = "/api/v1/dj-rest-auth/user/"


@pytest.mark.parametrize("identifier", ["alice", "alice@example.com"])
def test_login_answers_a_token_key(api_client: APIClient, alice: User, identifier: str) -> None:
    key = login(api_client, identifier)

    assert token_client(key).get("/api/v1/").status_code == 200


def test_login_response_is_exactly_the_key(api_client: APIClient, alice: User) -> None:
    response = api_client.post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json")

    assert set(response.json()) == {"key"}


def test_json_login_issues_only_a_token(api_client: APIClient, alice: User) -> None:
    login(api_client, "alice")

    assert "sessionid" not in api_client.cookies
    assert api_client.get(ME).status_code == 401


def test_form_login_from_the_browsable_api_also_opens_a_session(
    api_client: APIClient, alice: User
) -> None:
    response = api_client.post(LOGIN, {"username": "alice", "password": PASSWORD})

    assert response.status_code == 200
    assert response.json()["key"]
    assert "sessionid" in api_client.cookies
    assert api_client.get(ME).json()["username"] == "alice"


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "alice", "password": "wrong password here"},
        {"username": "nobody", "password": PASSWORD},
        {"email": "alice@example.com", "password": "wrong password here"},
        {"email": "nobody@example.com", "password": PASSWORD},
    ],
)
def test_failed_login_gives_one_message_for_unknown_user_and_wrong_password(
    api_client: APIClient, alice: User, credentials: dict[str, str]
) -> None:
    response = api_client.post(LOGIN, credentials, format="json")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}


def test_inactive_user_cannot_log_in(api_client: APIClient, alice: User) -> None:
    alice.is_active = False
    alice.save()

    response = api_client.post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json")

    assert response.status_code == 400


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"username": "alice"},
        {"password": PASSWORD},
        {"username": ["a"], "password": {}},
        {"username": "ali\x00ce", "password": PASSWORD},
    ],
)
def test_malformed_login_is_a_400(
    api_client: APIClient, alice: User, payload: dict[str, Any]
) -> None:
    response = api_client.post(LOGIN, payload, format="json")

    assert response.status_code == 400
    assert response.json()


def test_login_with_malformed_json_is_a_400(api_client: APIClient, db: None) -> None:
    response = api_client.post(LOGIN, '{"username": ', content_type="application/json")

    assert response.status_code == 400


def test_get_on_login_is_a_405_with_allow(api_client: APIClient, db: None) -> None:
    response = api_client.get(LOGIN)

    assert response.status_code == 405
    assert "POST" in response["Allow"]


def test_logout_ends_the_token(alice: User) -> None:
    key = login(APIClient(), "alice")
    client = token_client(key)

    response = client.post(LOGOUT)

    assert response.status_code == 200
    assert token_client(key).get("/api/v1/").status_code == 401


def test_logout_ends_the_session(api_client: APIClient, alice: User) -> None:
    api_client.post(LOGIN, {"username": "alice", "password": PASSWORD})

    api_client.post(LOGOUT)

    assert api_client.get(ME).status_code == 401


def test_logout_by_get_is_refused(alice_client: APIClient) -> None:
    response = alice_client.get(LOGOUT)

    assert response.status_code == 405
    assert alice_client.get(ME).status_code == 200


def test_user_details_show_the_caller(alice_client: APIClient, alice: User) -> None:
    response = alice_client.get(ME)

    assert response.status_code == 200
    assert response.json() == {
        "pk": alice.pk,
        "username": "alice",
        "email": "alice@example.com",
        "first_name": "",
        "last_name": "",
    }


def test_user_details_update_names_but_not_email(alice_client: APIClient, alice: User) -> None:
    response = alice_client.patch(
        ME, {"first_name": "Alice", "email": "evil@example.com", "is_staff": True}, format="json"
    )

    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.first_name == "Alice"
    assert alice.email == "alice@example.com"
    assert not alice.is_staff


def test_user_details_need_authentication(api_client: APIClient, db: None) -> None:
    response = api_client.get(ME)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
