"""The OpenAPI contract: served, documented, valid and warning-free."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from conftest import settings_in_subprocess

EXPECTED_PATHS = {
    "/api/v1/",
    "/api/v1/{id}/",
    "/api/v1/users/",
    "/api/v1/users/{id}/",
    "/api/v1/dj-rest-auth/login/",
    "/api/v1/dj-rest-auth/logout/",
    "/api/v1/dj-rest-auth/csrf/",
    "/api/v1/dj-rest-auth/logout-all/",
    "/api/v1/dj-rest-auth/activity/",
    "/api/v1/dj-rest-auth/tokens/",
    "/api/v1/dj-rest-auth/tokens/{credential_id}/",
    "/api/v1/dj-rest-auth/email/",
    "/api/v1/dj-rest-auth/mfa/status/",
    "/api/v1/dj-rest-auth/mfa/totp/activate/",
    "/api/v1/dj-rest-auth/mfa/totp/deactivate/",
    "/api/v1/dj-rest-auth/mfa/recovery-codes/",
    "/api/v1/dj-rest-auth/mfa/recovery-codes/regenerate/",
    "/api/v1/dj-rest-auth/mfa/verify/",
    "/api/v1/dj-rest-auth/reauthenticate/",
    "/api/v1/dj-rest-auth/reauthenticate/webauthn/begin/",
    "/api/v1/dj-rest-auth/mfa/webauthn/",
    "/api/v1/dj-rest-auth/mfa/webauthn/{id}/",
    "/api/v1/dj-rest-auth/mfa/webauthn/register/begin/",
    "/api/v1/dj-rest-auth/mfa/webauthn/register/",
    "/api/v1/dj-rest-auth/mfa/webauthn/authenticate/",
    "/api/v1/dj-rest-auth/mfa/webauthn/login/begin/",
    "/api/v1/dj-rest-auth/mfa/webauthn/login/",
    "/api/v1/dj-rest-auth/export/",
    "/api/v1/dj-rest-auth/delete/",
    "/api/v1/dj-rest-auth/token/refresh/",
    "/api/v1/dj-rest-auth/token/verify/",
    "/api/v1/dj-rest-auth/user/",
    "/api/v1/dj-rest-auth/password/change/",
    "/api/v1/dj-rest-auth/password/reset/",
    "/api/v1/dj-rest-auth/password/reset/confirm/",
    "/api/v1/dj-rest-auth/registration/",
    "/api/v1/dj-rest-auth/registration/verify-email/",
    "/api/v1/dj-rest-auth/registration/resend-email/",
    "/healthz",
    "/readyz",
}


@pytest.mark.django_db
def test_schema_is_served_publicly_and_covers_every_endpoint(client: Client) -> None:
    response = client.get("/api/schema/")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert set(schema["paths"]) == EXPECTED_PATHS
    schemes = schema["components"]["securitySchemes"]
    assert set(schemes) == {"tokenAuth", "cookieAuth"}  # basicAuth: only when enabled (below)
    assert "Token <key>" in schemes["tokenAuth"]["description"]
    assert "X-CSRFToken" in schemes["cookieAuth"]["description"]


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


# Reads that answer 403 `reauthentication_required` until the caller reauthenticates.
REAUTHENTICATED_READS = {"/api/v1/dj-rest-auth/export/"}


def test_every_operation_documents_the_shared_errors_and_their_headers(
    operations: list[tuple[str, str, dict[str, Any]]],
) -> None:
    for method, path, operation in operations:
        responses = operation["responses"]
        where = f"{method.upper()} {path}"
        assert {"400", "405", "413", "414"} <= set(responses), where
        assert list(responses["414"]["content"]) == ["text/html"], where  # gunicorn's page
        assert responses["405"]["headers"]["Allow"]["required"], where
        if path in ("/healthz", "/readyz"):
            continue  # no credentials read, no rate limit: see the probes' own test
        assert responses["401"]["headers"]["WWW-Authenticate"]["required"], where
        assert responses["429"]["headers"]["Retry-After"]["required"], where
        assert "Retry-After" in responses["503"]["headers"], where
        if method in ("post", "put", "patch", "delete"):
            assert "403" in responses, where
        if "requestBody" in operation:
            assert "415" in responses, where
        if "{" in path:
            assert "404" in responses, where
        if method == "get" and path not in REAUTHENTICATED_READS:
            assert "403" not in responses, where


def test_health_probes_are_documented_as_public_with_their_own_answers(
    operations: list[tuple[str, str, dict[str, Any]]],
) -> None:
    probes = {path: operation for method, path, operation in operations if path.endswith("z")}

    assert set(probes) == {"/healthz", "/readyz"}
    for operation in probes.values():
        assert operation["security"] == [{}]
        assert not {"401", "403", "429"} & set(operation["responses"])
    assert "503" not in probes["/healthz"]["responses"]
    unavailable = probes["/readyz"]["responses"]["503"]["content"]["application/json"]
    assert unavailable["schema"] == {"$ref": "#/components/schemas/HealthUnavailable"}


def _examples(operation: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    if status is None:
        content = operation["requestBody"]["content"]
    else:
        content = operation["responses"][status]["content"]
    return dict(content["application/json"].get("examples", {}))


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("post", "/api/v1/dj-rest-auth/login/", None),
        ("post", "/api/v1/dj-rest-auth/login/", "200"),
        ("post", "/api/v1/dj-rest-auth/registration/", None),
        ("post", "/api/v1/dj-rest-auth/registration/", "201"),
        ("get", "/api/v1/", "200"),
        ("post", "/api/v1/", None),
        ("post", "/api/v1/", "201"),
        ("get", "/api/v1/dj-rest-auth/tokens/", "200"),
        ("get", "/healthz", "200"),
        ("get", "/readyz", "503"),
        ("post", "/api/v1/", "400"),
        ("get", "/api/v1/", "401"),
        ("get", "/api/v1/", "429"),
    ],
)
def test_main_operations_have_examples(
    operations: list[tuple[str, str, dict[str, Any]]],
    method: str,
    path: str,
    status: str | None,
) -> None:
    [operation] = [op for m, p, op in operations if (m, p) == (method, path)]

    assert _examples(operation, status)


def test_examples_show_a_device_key_and_a_cursor_page(
    operations: list[tuple[str, str, dict[str, Any]]],
) -> None:
    by_key = {(method, path): operation for method, path, operation in operations}

    [login] = _examples(by_key["post", "/api/v1/dj-rest-auth/login/"], "200").values()
    [page] = _examples(by_key["get", "/api/v1/"], "200").values()

    assert login["value"]["key"].startswith("blogapi_")
    assert set(page["value"]) == {"next", "previous", "results"}
    assert "cursor=" in page["value"]["next"]
    assert page["value"]["results"][0]["author"] == {"id": 1, "username": "alice"}


def test_basic_authentication_is_documented_when_enabled() -> None:
    expression = (
        "sorted(__import__('drf_spectacular.generators', fromlist=['_']).SchemaGenerator()"
        ".get_schema(request=None, public=True)['components']['securitySchemes'])"
    )
    result = settings_in_subprocess(
        {
            "DJANGO_SECRET_KEY": "k" * 50,
            "DJANGO_ALLOWED_HOSTS": "api.example.com",
            "DATABASE_URL": "sqlite:///:memory:",
            "EMAIL_URL": "dummymail://",
            "AUTH_BASIC_ENABLED": "true",
        },
        expression,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['basicAuth', 'cookieAuth', 'tokenAuth']"


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


def test_documented_answers_outside_the_views_match_real_answers(alice_client: APIClient) -> None:
    not_acceptable = alice_client.get("/api/v1/", HTTP_ACCEPT="application/xml")
    too_big = alice_client.get("/api/v1/users/", CONTENT_LENGTH=str(2 * 1024 * 1024))
    junk_length = alice_client.get("/api/v1/users/", CONTENT_LENGTH="12abc")
    not_allowed = alice_client.put("/api/v1/users/", {}, format="json")

    assert not_acceptable.status_code == 406
    assert set(not_acceptable.json()) == {"detail"}
    assert too_big.status_code == 413
    assert set(too_big.json()) == {"detail"}
    assert junk_length.status_code == 400
    assert set(junk_length.json()) == {"detail"}
    assert not_allowed.status_code == 405
    assert not_allowed["Allow"] == "GET, HEAD, OPTIONS"
    assert set(not_allowed.json()) == {"detail"}
