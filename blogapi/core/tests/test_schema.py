"""The OpenAPI contract: served, documented, valid and warning-free."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

EXPECTED_PATHS = {
    "/api/v1/",
    "/api/v1/{id}/",
    "/api/v1/users/",
    "/api/v1/users/{id}/",
    "/api/v1/dj-rest-auth/login/",
    "/api/v1/dj-rest-auth/logout/",
    "/api/v1/dj-rest-auth/logout-all/",
    "/api/v1/dj-rest-auth/tokens/",
    "/api/v1/dj-rest-auth/tokens/{credential_id}/",
    "/api/v1/dj-rest-auth/user/",
    "/api/v1/dj-rest-auth/password/change/",
    "/api/v1/dj-rest-auth/password/reset/",
    "/api/v1/dj-rest-auth/password/reset/confirm/",
    "/api/v1/dj-rest-auth/registration/",
    "/api/v1/dj-rest-auth/registration/verify-email/",
    "/api/v1/dj-rest-auth/registration/resend-email/",
}


@pytest.mark.django_db
def test_schema_is_served_publicly_and_covers_every_endpoint(client: Client) -> None:
    response = client.get("/api/schema/")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert set(schema["paths"]) == EXPECTED_PATHS
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/schema/swagger-ui/", "/api/schema/redoc/"])
def test_schema_viewers_are_served(client: Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert b"/api/schema/" in response.content


def test_schema_generates_without_warnings_and_validates(tmp_path: Path) -> None:
    out = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    assert "/api/v1/dj-rest-auth/login/" in out.read_text()


@pytest.fixture(scope="module")
def operations(django_db_blocker: Any) -> list[tuple[str, str, dict[str, Any]]]:
    with django_db_blocker.unblock():
        schema = yaml.safe_load(Client().get("/api/schema/").content)
    return [
        (method, path, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_operation_documents_the_shared_errors_and_their_headers(
    operations: list[tuple[str, str, dict[str, Any]]],
) -> None:
    for method, path, operation in operations:
        responses = operation["responses"]
        where = f"{method.upper()} {path}"
        assert "WWW-Authenticate" in responses["401"]["headers"], where
        assert "Allow" in responses["405"]["headers"], where
        assert "Retry-After" in responses["429"]["headers"], where
        assert "Retry-After" in responses["503"]["headers"], where
        if method in ("post", "put", "patch"):
            assert {"400", "413", "415", "403"} <= set(responses), where
        if "{" in path:
            assert "404" in responses, where
        if method == "get":
            assert "403" not in responses, where


def test_documented_error_shapes_match_real_answers(alice_client: APIClient) -> None:
    unsupported = alice_client.post("/api/v1/", "x", content_type="text/plain")
    invalid = alice_client.post("/api/v1/", {"title": ""}, format="json")
    anonymous = APIClient().get("/api/v1/")

    assert unsupported.status_code == 415
    assert set(unsupported.json()) == {"detail"}
    assert invalid.status_code == 400
    assert all(isinstance(messages, list) for messages in invalid.json().values())
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == "Token"
    assert set(anonymous.json()) == {"detail"}
