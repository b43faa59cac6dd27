"""Password change and password reset end to end over HTTP (API and the mailed page)."""

from typing import Any

import pytest
from django.core import mail
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from conftest import PASSWORD, mailed_link

CHANGE = "/api/v1/dj-rest-auth/password/change/"
RESET = "/api/v1/dj-rest-auth/password/reset/"
RESET_CONFIRM = "/api/v1/dj-rest-auth/password/reset/confirm/"
LOGIN = "/api/v1/dj-rest-auth/login/"
RESET_LINK = r"(https?://\S+/password/reset/confirm/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/)"
NEW_PASSWORD = "a brand new passphrase"


def can_log_in(password: str) -> bool:
    response = APIClient().post(LOGIN, {"username": "alice", "password": password}, format="json")
    return response.status_code == 200


def test_password_change_needs_the_old_password(alice_client: APIClient) -> None:
    response = alice_client.post(
        CHANGE, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, format="json"
    )

    assert response.status_code == 400
    assert "old_password" in response.json()
    assert can_log_in(PASSWORD)


def test_password_change_refuses_a_wrong_old_password(alice_client: APIClient) -> None:
    response = alice_client.post(
        CHANGE,
        {
            "old_password": "not the password",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        format="json",
    )

    assert response.status_code == 400
    assert "old_password" in response.json()
    assert can_log_in(PASSWORD)


def test_password_change_sets_the_new_password(alice_client: APIClient) -> None:
    response = alice_client.post(
        CHANGE,
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        format="json",
    )

    assert response.status_code == 200
    assert can_log_in(NEW_PASSWORD)
    assert not can_log_in(PASSWORD)


@pytest.mark.parametrize(
    ("new1", "new2"),
    [(NEW_PASSWORD, "different passphrase"), ("short", "short"), ("alice", "alice")],
)
def test_password_change_refuses_bad_new_passwords(
    alice_client: APIClient, new1: str, new2: str
) -> None:
    response = alice_client.post(
        CHANGE,
        {"old_password": PASSWORD, "new_password1": new1, "new_password2": new2},
        format="json",
    )

    assert response.status_code == 400
    assert "new_password2" in response.json()
    assert can_log_in(PASSWORD)


def test_password_change_needs_authentication(api_client: APIClient, alice: User) -> None:
    response = api_client.post(
        CHANGE,
        {"old_password": PASSWORD, "new_password1": "x", "new_password2": "x"},
        format="json",
    )

    assert response.status_code == 401


def request_reset(client: APIClient, email: str = "alice@example.com") -> Any:
    return client.post(RESET, {"email": email}, format="json")


def test_password_reset_end_to_end_through_the_api(api_client: APIClient, alice: User) -> None:
    response = request_reset(api_client)
    assert response.status_code == 200
    assert mail.outbox[0].to == ["alice@example.com"]
    link = mailed_link(RESET_LINK)
    confirm = {
        "uid": link.group("uid"),
        "token": link.group("token"),
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }

    assert api_client.post(RESET_CONFIRM, confirm, format="json").status_code == 200
    assert can_log_in(NEW_PASSWORD)
    assert not can_log_in(PASSWORD)

    again = api_client.post(
        RESET_CONFIRM,
        {
            **confirm,
            "new_password1": "yet another one here",
            "new_password2": "yet another one here",
        },
        format="json",
    )
    assert again.status_code == 400
    assert "token" in again.json()
    assert can_log_in(NEW_PASSWORD)


def test_password_reset_link_opens_a_page_that_sets_the_password_once(
    api_client: APIClient, alice: User
) -> None:
    request_reset(api_client)
    link = mailed_link(RESET_LINK).group(1)

    page = api_client.get(link)
    assert page.status_code == 200
    assert b"Choose a new password" in page.content
    # Not a login here: a login changes last_login, which (by design) invalidates reset tokens.
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)

    form = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    done = api_client.post(link, form)
    assert done.status_code == 200
    assert b"Password changed" in done.content
    assert can_log_in(NEW_PASSWORD)

    again = api_client.post(link, form)
    assert again.status_code == 400
    assert b"cannot be used" in again.content


def test_password_reset_page_shows_password_errors(api_client: APIClient, alice: User) -> None:
    request_reset(api_client)
    link = mailed_link(RESET_LINK).group(1)

    response = api_client.post(link, {"new_password1": "short", "new_password2": "short"})

    assert response.status_code == 400
    assert b"too short" in response.content
    assert can_log_in(PASSWORD)


def test_password_reset_link_points_at_the_frontend_when_configured(
    api_client: APIClient, alice: User, settings: Any
) -> None:
    settings.FRONTEND_URL = "https://app.example.com"
    request_reset(api_client)

    link = mailed_link(r"https://app\.example\.com/reset-password/(?P<uid>[^/\s]+)/(?P<token>\S+)")
    confirm = {
        "uid": link.group("uid"),
        "token": link.group("token"),
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }
    assert api_client.post(RESET_CONFIRM, confirm, format="json").status_code == 200
    assert can_log_in(NEW_PASSWORD)


def test_password_reset_for_an_unknown_address_answers_the_same(
    api_client: APIClient, alice: User
) -> None:
    known = request_reset(api_client)
    unknown = request_reset(api_client, "nobody@example.com")

    assert unknown.status_code == known.status_code == 200
    assert unknown.json() == known.json()
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"uid": "zz", "token": "bad", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        {"uid": ["x"], "token": {}, "new_password1": 1, "new_password2": None},
        {
            "uid": "a\x00",
            "token": "b\x00",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        {
            "uid": "999999999999999999999999999",
            "token": "x",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    ],
)
def test_bad_reset_confirmations_are_a_400(
    api_client: APIClient, alice: User, payload: dict[str, Any]
) -> None:
    response = api_client.post(RESET_CONFIRM, payload, format="json")

    assert response.status_code == 400
    assert response.json()
    assert can_log_in(PASSWORD)


@pytest.mark.parametrize("email", ["", "not-an-email", "a\x00@example.com"])
def test_bad_reset_requests_are_a_400(api_client: APIClient, db: None, email: str) -> None:
    response = request_reset(api_client, email)

    assert response.status_code == 400
    assert "email" in response.json()


@pytest.mark.parametrize("path", [RESET, "/api/v1/dj-rest-auth/registration/"])
def test_mailed_links_ignore_the_requests_host_headers(
    api_client: APIClient, alice: User, settings: Any, path: str
) -> None:
    settings.ALLOWED_HOSTS = ["*"]
    settings.USE_X_FORWARDED_HOST = True
    settings.SITE_URL = "https://api.example.com"
    body = (
        {"email": "alice@example.com"}
        if path == RESET
        else {
            "username": "carol",
            "email": "carol@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        }
    )

    api_client.post(
        path, body, format="json", HTTP_HOST="evil.example", HTTP_X_FORWARDED_HOST="evil.example"
    )

    assert "https://api.example.com/api/v1/dj-rest-auth/" in mail.outbox[-1].body
    assert "evil" not in mail.outbox[-1].body
    assert "evil" not in mail.outbox[-1].subject
