"""Bad input on every JSON endpoint answers a JSON 400, never a 5xx, and changes nothing."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from blogapi.posts.models import Post

ENDPOINTS = [
    "/api/v1/",
    "/api/v1/dj-rest-auth/login/",
    "/api/v1/dj-rest-auth/password/change/",
    "/api/v1/dj-rest-auth/password/reset/",
    "/api/v1/dj-rest-auth/password/reset/confirm/",
    "/api/v1/dj-rest-auth/registration/",
    "/api/v1/dj-rest-auth/registration/verify-email/",
    "/api/v1/dj-rest-auth/registration/resend-email/",
]

BODIES: list[tuple[str, str]] = [
    ("malformed", '{"a": '),
    ("a list", "[1, 2, 3]"),
    ("a string", '"just a string"'),
    ("null", "null"),
    (
        "wrong types",
        '{"username": [], "password": {}, "email": 5, "key": [], "title": {},'
        ' "body": [], "old_password": 1, "new_password1": [], "new_password2": {}, "uid": 3,'
        ' "token": [], "password1": {}, "password2": []}',
    ),
    ("missing fields", "{}"),
    (
        "NUL bytes",
        '{"username": "a\\u0000", "email": "b\\u0000@x.io", "key": "\\u0000",'
        ' "title": "\\u0000", "body": "\\u0000", "password": "\\u0000"}',
    ),
]


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(("label", "body"), BODIES, ids=[label for label, _ in BODIES])
def test_bad_json_is_a_json_400(
    alice_client: APIClient, alice: User, path: str, label: str, body: str
) -> None:
    password_before = User.objects.get(pk=alice.pk).password

    response = alice_client.post(path, body, content_type="application/json")

    assert response.status_code == 400, (label, response.content)
    assert isinstance(response.json(), dict)
    assert response.json()
    assert User.objects.get(pk=alice.pk).password == password_before
    assert User.objects.count() == 1
    assert Post.objects.count() == 0


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("path", ["/api/v1/dj-rest-auth/user/", "post"])
def test_bad_json_on_updates_is_a_json_400(
    alice_client: APIClient, alice: User, method: str, path: str
) -> None:
    if path == "post":
        path = f"/api/v1/{Post.objects.create(author=alice, title='t', body='b').pk}/"

    response: Any = getattr(alice_client, method)(path, '{"x": ', content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
