"""CORS: configured front-end origins may call the API with credentials; nobody else may."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from conftest import settings_in_subprocess

APP = "https://app.example.com"


@pytest.fixture(autouse=True)
def _front_end_origin(settings: Any) -> None:
    settings.CORS_ALLOWED_ORIGINS = [APP]


def test_a_configured_origin_may_read_with_credentials(alice_client: APIClient) -> None:
    response = alice_client.get("/api/v1/", HTTP_ORIGIN=APP)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert "Retry-After" in response["Access-Control-Expose-Headers"]


def test_a_preflight_from_a_configured_origin_allows_auth_and_csrf_headers(
    api_client: APIClient, db: None
) -> None:
    response = api_client.options(
        "/api/v1/dj-rest-auth/login/",
        HTTP_ORIGIN=APP,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, x-csrftoken",
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    allowed = response["Access-Control-Allow-Headers"].lower()
    assert {"authorization", "content-type", "x-csrftoken"} <= {
        h.strip() for h in allowed.split(",")
    }


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        "https://app.example.com.evil.example",
        "http://app.example.com",
    ],
)
def test_other_origins_get_no_cors_headers(
    alice_client: APIClient, alice: User, origin: str
) -> None:
    read = alice_client.get("/api/v1/", HTTP_ORIGIN=origin)
    preflight = APIClient().options(
        "/api/v1/dj-rest-auth/login/",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )

    for response in (read, preflight):
        assert "Access-Control-Allow-Origin" not in response
        assert "Access-Control-Allow-Credentials" not in response


def test_cors_is_limited_to_the_api(client: Any, db: None) -> None:
    response = client.get("/admin/login/", HTTP_ORIGIN=APP)

    assert "Access-Control-Allow-Origin" not in response


def test_origins_come_from_env_and_are_trusted_for_csrf() -> None:
    result = settings_in_subprocess(
        {"DJANGO_DEBUG": "true", "CORS_ALLOWED_ORIGINS": f"{APP},http://localhost:5173"},
        "settings.CORS_ALLOWED_ORIGINS, settings.CSRF_TRUSTED_ORIGINS",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(
        ([APP, "http://localhost:5173"], [APP, "http://localhost:5173"])
    )


@pytest.mark.parametrize("origin", ["app.example.com", "https://app.example.com/path", "*"])
def test_a_malformed_origin_refuses_to_start(origin: str) -> None:
    result = settings_in_subprocess({"DJANGO_DEBUG": "true", "CORS_ALLOWED_ORIGINS": origin})

    assert result.returncode != 0
    assert "CORS_ALLOWED_ORIGINS" in result.stderr
