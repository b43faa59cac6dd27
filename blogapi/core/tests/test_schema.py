"""The OpenAPI contract: served, documented, valid and warning-free."""

from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

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
