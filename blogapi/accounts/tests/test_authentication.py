"""Authentication schemes: Token and Session on, Basic behind AUTH_BASIC_ENABLED, 401 challenges."""

import base64
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient
from rest_framework.views import APIView

from blogapi.accounts.authentication import (
    BasicCredentialsAuthentication,
    DeviceTokenAuthentication,
)
from blogapi.accounts.models import User
from conftest import PASSWORD, login, settings_in_subprocess

PROTECTED = "/api/v1/"


@pytest.mark.parametrize(
    "header",
    [
        "Token",
        "Token ",
        "Token a b",
        "Token " + "0" * 40,
        "Token blogapi_" + "A" * 43,
        "Token blogapi_" + "A" * 42 + "\x00",
        "Token blogapi_" + "A" * 44,
        "Token\x00 blogapi_" + "A" * 43,
        "Token " + "g" * 40,
        "Token abc\x00def",
        "Token " + "\x00" * 40,
        "Token ünïcödé",
        "Bearer " + "0" * 40,
        "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode(),
    ],
)
def test_bad_or_unknown_credentials_answer_401_with_a_token_challenge(
    api_client: APIClient, alice: User, header: str
) -> None:
    response = api_client.get(PROTECTED, HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "detail" in response.json()


def test_a_real_token_works_only_with_the_token_keyword(alice: User) -> None:
    key = login(APIClient(), "alice")

    assert APIClient().get(PROTECTED, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    assert APIClient().get(PROTECTED, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401


def test_token_authentication_is_one_query(alice: User, django_assert_num_queries: Any) -> None:
    key = login(APIClient(), "alice")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    # One query for token + user, one for the (empty) page of posts.
    with django_assert_num_queries(2):
        assert client.get(PROTECTED).status_code == 200


def test_session_authentication_needs_csrf_for_unsafe_methods(alice: User) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)

    assert browser.get(PROTECTED).status_code == 200
    refused = browser.post(PROTECTED, {"title": "t", "body": "b"})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]


@pytest.fixture
def basic_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """What AUTH_BASIC_ENABLED=true configures (checked in test_basic_setting_follows_env)."""
    monkeypatch.setattr(
        APIView,
        "authentication_classes",
        [*APIView.authentication_classes, BasicCredentialsAuthentication],
    )


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.mark.usefixtures("basic_enabled")
def test_basic_auth_works_when_enabled(api_client: APIClient, alice: User) -> None:
    assert api_client.get(PROTECTED, HTTP_AUTHORIZATION=basic("alice", PASSWORD)).status_code == 200
    wrong = api_client.get(PROTECTED, HTTP_AUTHORIZATION=basic("alice", "wrong password"))
    assert wrong.status_code == 401


@pytest.mark.parametrize(("value", "expected"), [("", False), ("false", False), ("true", True)])
def test_basic_setting_follows_env(value: str, expected: bool) -> None:
    result = settings_in_subprocess(
        {"DJANGO_DEBUG": "true", "AUTH_BASIC_ENABLED": value},
        "settings.REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES']",
    )

    assert result.returncode == 0, result.stderr
    assert ("BasicCredentialsAuthentication" in result.stdout) is expected
    # Token stays first, so unauthenticated requests get 401 + `WWW-Authenticate: Token`.
    assert result.stdout.index("TokenAuthentication") < result.stdout.index("SessionAuthentication")


def test_token_class_names_the_token_scheme() -> None:
    assert DeviceTokenAuthentication().authenticate_header(None) == "Token"  # type: ignore[arg-type]
