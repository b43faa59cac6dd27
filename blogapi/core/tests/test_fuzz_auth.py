"""Property tests: arbitrary JSON bodies on the auth and post endpoints never answer a 5xx.

Hypothesis runs many examples inside one test function, and the database is rolled back only
after the function: each property holds whatever earlier examples have changed.
"""

import json
from collections.abc import Callable
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.core.cache import cache
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from blogapi.posts.models import Post
from conftest import PASSWORD

FUZZ = hypothesis_settings(
    max_examples=40,
    deadline=None,
    # No example database: it would be written into the working tree (.hypothesis/).
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Any Unicode but lone surrogates, which JSON text cannot carry raw; NUL and controls included.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
# Values that get past the first checks, so the fuzzing reaches the flows behind them.
PLAUSIBLE = st.sampled_from(
    [
        "alice",
        "alice@example.com",
        "ALICE@EXAMPLE.COM",
        PASSWORD,
        "a fresh passphrase 4 fuzz",
        "",
        " ",
        "\x00",
        "a" * 300,
        "MQ",
        "set-password",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
    | PLAUSIBLE
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)


def bodies(*fields: str) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects with any subset of `fields` (arbitrary values) and maybe unknown keys."""
    known = st.fixed_dictionaries({}, optional=dict.fromkeys(fields, VALUES))
    unknown = st.dictionaries(TEXT, VALUES, max_size=2)
    return st.builds(lambda extra, own: {**extra, **own}, unknown, known)


@pytest.fixture(autouse=True)
def _rate_limits_out_of_reach(settings: Any) -> None:
    """Every example must reach the serializers and flows behind the rate limits, not a 429."""
    settings.RATE_LIMITS = dict.fromkeys(getattr(settings, "RATE_LIMITS", {}), "1000000/1")


@pytest.fixture
def carol(user_factory: Callable[..., User]) -> User:
    """A user whose address is not confirmed yet."""
    return user_factory("carol", email_verified=False)


def post_json(client: APIClient, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    """POST `body` as JSON; the answer must be a JSON document and not a server error."""
    # Rate-limit counters would otherwise turn every later example into a bare 429.
    cache.clear()
    response = client.post(path, json.dumps(body), content_type="application/json")
    assert response.status_code < 500, (body, response.content[:500])
    assert response["Content-Type"] == "application/json", (body, response.content[:500])
    return response.status_code, json.loads(response.content)


@FUZZ
@given(body=bodies("username", "email", "password", "device"))
def test_login_never_fails_with_a_5xx(api_client: APIClient, alice: User, body: Any) -> None:
    status, answer = post_json(api_client, "/api/v1/dj-rest-auth/login/", body)

    # Only alice's own password ever opens her account.
    assert status in (200, 400), answer
    if status == 200:
        assert body["password"] == PASSWORD
        assert answer["key"].startswith("blogapi_")


@FUZZ
@given(body=bodies("username", "email", "password1", "password2"))
def test_registration_never_fails_with_a_5xx(api_client: APIClient, db: None, body: Any) -> None:
    users_before = User.objects.count()

    status, answer = post_json(api_client, "/api/v1/dj-rest-auth/registration/", body)

    assert status in (201, 400), answer
    created = User.objects.count() - users_before
    assert created == (1 if status == 201 else 0)
    if status == 201:
        assert body["password1"] == body["password2"]


@FUZZ
@given(body=bodies("old_password", "new_password1", "new_password2"))
def test_password_change_never_fails_with_a_5xx(
    alice_client: APIClient, alice: User, body: Any
) -> None:
    before = User.objects.get(pk=alice.pk).password

    status, answer = post_json(alice_client, "/api/v1/dj-rest-auth/password/change/", body)

    assert status in (200, 400), answer
    after = User.objects.get(pk=alice.pk)
    assert (after.password != before) == (status == 200)
    if status == 200:
        assert body["new_password1"] == body["new_password2"]
        assert after.check_password(body["new_password1"])


@FUZZ
@given(body=bodies("email"))
def test_password_reset_never_fails_with_a_5xx(
    api_client: APIClient, alice: User, body: Any
) -> None:
    status, answer = post_json(api_client, "/api/v1/dj-rest-auth/password/reset/", body)

    assert status in (200, 400), answer


@FUZZ
@given(body=bodies("uid", "token", "new_password1", "new_password2"))
def test_password_reset_confirm_never_fails_with_a_5xx(
    api_client: APIClient, alice: User, body: Any
) -> None:
    before = User.objects.get(pk=alice.pk).password

    status, answer = post_json(api_client, "/api/v1/dj-rest-auth/password/reset/confirm/", body)

    # Without a real mailed token no reset can succeed.
    assert status == 400, answer
    assert User.objects.get(pk=alice.pk).password == before


@FUZZ
@given(body=bodies("key"))
def test_verify_email_never_fails_with_a_5xx(api_client: APIClient, carol: User, body: Any) -> None:
    status, answer = post_json(api_client, "/api/v1/dj-rest-auth/registration/verify-email/", body)

    # Without a real mailed key no address can be confirmed.
    assert status == 400, answer
    assert not EmailAddress.objects.get(user=carol).verified


@FUZZ
@given(body=bodies("email"))
def test_resend_email_never_fails_with_a_5xx(api_client: APIClient, carol: User, body: Any) -> None:
    status, answer = post_json(api_client, "/api/v1/dj-rest-auth/registration/resend-email/", body)

    assert status in (200, 400), answer


@FUZZ
@given(body=bodies("title", "body", "author", "id"))
def test_post_create_never_fails_with_a_5xx(
    alice_client: APIClient, alice: User, body: Any
) -> None:
    status, answer = post_json(alice_client, "/api/v1/", body)

    assert status in (201, 400), answer
    if status == 201:
        post = Post.objects.get(pk=answer["id"])
        assert post.author == alice
        assert (post.title, post.body) == (answer["title"], answer["body"])
        assert "\x00" not in post.title + post.body
        assert len(post.title) <= 50
