"""Browser sessions in the credentials list: only those that still sign the user in, listed and
ended in a fixed number of queries."""

from datetime import timedelta

import pytest
from allauth.usersessions.models import UserSession
from django.contrib.auth import HASH_SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from conftest import PASSWORD, login, token_client

TOKENS = "/api/v1/dj-rest-auth/tokens/"


def browser_login(user: User) -> Client:
    browser = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
    response = browser.post("/api-auth/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def listed_sessions(user: User) -> list[dict[str, object]]:
    credentials = token_client(login(APIClient(), user.username)).get(TOKENS).json()
    return [c for c in credentials if c["kind"] == "session"]


def session_key(browser: Client) -> str:
    return str(browser.cookies["sessionid"].value)


def test_a_live_session_is_listed_with_its_expiry(alice: User) -> None:
    key = session_key(browser_login(alice))

    [listed] = listed_sessions(alice)

    expiry = Session.objects.get(session_key=key).expire_date
    assert listed["expires_at"] == expiry.isoformat().replace("+00:00", "Z")
    assert listed["label"] == "Browser session (Firefox on Linux)"


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda key: Session.objects.filter(session_key=key).delete(), id="ended"),
        pytest.param(
            lambda key: Session.objects.filter(session_key=key).update(
                expire_date=timezone.now() - timedelta(seconds=1)
            ),
            id="expired",
        ),
        pytest.param(
            lambda key: Session.objects.filter(session_key=key).update(
                session_data=SessionStore().encode(
                    {**Session.objects.get(session_key=key).get_decoded(), HASH_SESSION_KEY: "x"}
                )
            ),
            id="password-changed-since",
        ),
        pytest.param(
            lambda key: Session.objects.filter(session_key=key).update(
                session_data=SessionStore().encode({})
            ),
            id="signed-out",
        ),
    ],
)
def test_a_session_that_no_longer_signs_in_is_not_listed_and_its_record_goes(
    alice: User, spoil: object
) -> None:
    key = session_key(browser_login(alice))
    spoil(key)  # type: ignore[operator]

    assert listed_sessions(alice) == []
    assert not UserSession.objects.filter(session_key=key).exists()


def test_a_session_of_an_unlisted_backend_is_not_listed(alice: User, settings: object) -> None:
    browser_login(alice)
    token = login(APIClient(), "alice")
    # The session names our backend; a deployment that dropped it signs nobody in with it.
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]  # type: ignore[attr-defined]

    credentials = token_client(token).get(TOKENS).json()

    assert [c for c in credentials if c["kind"] == "session"] == []


def test_sessions_survive_a_secret_key_rotation_through_the_fallbacks(
    alice: User, settings: object
) -> None:
    old_key = settings.SECRET_KEY  # type: ignore[attr-defined]
    browser_login(alice)
    settings.SECRET_KEY = "a-new-secret-key-for-this-test-only-0123456789-abcdef"  # type: ignore[attr-defined]
    settings.SECRET_KEY_FALLBACKS = [old_key]  # type: ignore[attr-defined]

    assert len(listed_sessions(alice)) == 1


def test_another_users_sessions_are_never_listed(alice: User, bob: User) -> None:
    browser_login(bob)

    assert listed_sessions(alice) == []


def test_logout_everywhere_ends_every_stored_session(alice: User) -> None:
    keys = [session_key(browser_login(alice)) for _ in range(3)]
    token = login(APIClient(), "alice")

    assert token_client(token).post("/api/v1/dj-rest-auth/logout-all/").status_code == 200

    assert not Session.objects.filter(session_key__in=keys).exists()
    assert not UserSession.objects.filter(user=alice).exists()
