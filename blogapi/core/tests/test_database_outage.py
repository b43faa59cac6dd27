"""A lost database answers 503 JSON with Retry-After (retryable), never a 500 traceback."""

from typing import Any

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client
from rest_framework.test import APIClient

from blogapi.accounts.backends import RateLimitedAuthenticationBackend


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_an_api_view_answers_503_when_the_database_is_gone(
    alice_client: APIClient, monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    def gone(*args: Any, **kwargs: Any) -> Any:
        raise error("connection refused")

    monkeypatch.setattr("blogapi.posts.views.post_list", gone)

    response = alice_client.get("/api/v1/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {"detail": "Service temporarily unavailable, please retry shortly."}


def test_a_django_view_answers_503_json_when_the_database_is_gone(
    client: Client, db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def gone(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(RateLimitedAuthenticationBackend, "authenticate", gone)

    response = client.post("/api-auth/login/", {"username": "alice", "password": "whatever"})

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "unavailable" in response.json()["detail"]
