"""Browser sessions: an idle timeout beside the absolute lifetime, on every surface; in the
credentials list only those that still sign the user in, listed and ended in a fixed number of
queries."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from allauth.usersessions.models import UserSession
from django.contrib.auth import HASH_SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import OperationalError
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from blogapi.accounts import middleware
from blogapi.accounts.models import User
from conftest import PASSWORD, login, token_client

TOKENS = "/api/v1/dj-rest-auth/tokens/"
START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
IDLE = timedelta(days=1)  # AUTH_SESSION_IDLE_TTL's default
ABSOLUTE = timedelta(weeks=2)  # SESSION_COOKIE_AGE, Django's default


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


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_a_live_session_is_listed_with_its_idle_expiry(alice: User, time_machine: Any) -> None:
    time_machine.move_to(START, tick=False)
    browser = browser_login(alice)
    [at_login] = listed_sessions(alice)
    time_machine.move_to(START + timedelta(hours=12), tick=False)
    assert browser.get("/api/v1/").status_code == 200

    [after_use] = listed_sessions(alice)

    # As for tokens: the earlier of the idle and the absolute expiry, from the last use.
    assert at_login["expires_at"] == iso(START + IDLE)
    assert after_use["expires_at"] == iso(START + timedelta(hours=12) + IDLE)
    assert after_use["last_used_at"] == iso(START + timedelta(hours=12))
    assert after_use["label"] == "Browser session (Firefox on Linux)"


def test_a_session_whose_absolute_expiry_comes_first_is_listed_with_it(
    alice: User, settings: Any
) -> None:
    settings.AUTH_SESSION_IDLE_TTL = timedelta(days=30)
    key = session_key(browser_login(alice))

    [listed] = listed_sessions(alice)

    assert listed["expires_at"] == iso(Session.objects.get(session_key=key).expire_date)


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


# --- The idle timeout -------------------------------------------------------------------------


def api_signed_in(browser: Client) -> bool:
    response = browser.get("/api/v1/")
    assert response.status_code in (200, 401)
    return response.status_code == 200


def browsable_api_signed_in(browser: Client) -> bool:
    response = browser.get("/api/v1/", HTTP_ACCEPT="text/html")
    assert response.status_code in (200, 401)
    return response.status_code == 200 and b"Post List" in response.content


def admin_signed_in(browser: Client) -> bool:
    response = browser.get("/admin/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


SURFACES = [
    pytest.param(api_signed_in, id="api"),
    pytest.param(browsable_api_signed_in, id="browsable-api"),
    pytest.param(admin_signed_in, id="admin"),
]


@pytest.fixture
def staff_alice(user_factory: Callable[..., User]) -> User:
    """alice, staff so that the admin lets her in."""
    return user_factory("alice", is_staff=True, is_superuser=True)


@pytest.mark.parametrize("signed_in", SURFACES)
def test_a_session_unused_for_the_idle_timeout_is_refused_and_ended(
    staff_alice: User, time_machine: Any, signed_in: Callable[[Client], bool]
) -> None:
    time_machine.move_to(START, tick=False)
    browser = browser_login(staff_alice)
    key = session_key(browser)
    # Each use moves the idle expiry on.
    time_machine.move_to(START + IDLE - timedelta(seconds=1), tick=False)
    assert signed_in(browser)
    time_machine.move_to(START + 2 * IDLE - timedelta(seconds=2), tick=False)
    assert signed_in(browser)

    time_machine.move_to(START + 3 * IDLE, tick=False)

    assert not signed_in(browser)
    assert not signed_in(browser)
    assert not Session.objects.filter(session_key=key).exists()
    assert not UserSession.objects.filter(session_key=key).exists()


def test_the_idle_timeout_follows_settings(alice: User, time_machine: Any, settings: Any) -> None:
    settings.AUTH_SESSION_IDLE_TTL = timedelta(minutes=30)
    time_machine.move_to(START, tick=False)
    browser = browser_login(alice)

    time_machine.move_to(START + timedelta(minutes=29), tick=False)
    assert api_signed_in(browser)
    time_machine.move_to(START + timedelta(minutes=58), tick=False)
    assert api_signed_in(browser)
    time_machine.move_to(START + timedelta(minutes=89), tick=False)
    assert not api_signed_in(browser)


def test_an_idle_session_is_not_listed_and_is_ended(alice: User, time_machine: Any) -> None:
    time_machine.move_to(START, tick=False)
    key = session_key(browser_login(alice))
    time_machine.move_to(START + IDLE, tick=False)

    assert listed_sessions(alice) == []
    assert not Session.objects.filter(session_key=key).exists()
    assert not UserSession.objects.filter(session_key=key).exists()


def test_a_session_in_use_still_ends_at_its_absolute_expiry(alice: User, time_machine: Any) -> None:
    time_machine.move_to(START, tick=False)
    browser = browser_login(alice)
    for hours in range(12, int(ABSOLUTE.total_seconds() // 3600), 12):
        time_machine.move_to(START + timedelta(hours=hours), tick=False)
        assert api_signed_in(browser), hours

    time_machine.move_to(START + ABSOLUTE, tick=False)

    assert not api_signed_in(browser)


def test_a_token_request_with_an_idle_session_cookie_is_served_by_the_token(
    alice: User, time_machine: Any
) -> None:
    time_machine.move_to(START, tick=False)
    browser = browser_login(alice)
    key = session_key(browser)
    time_machine.move_to(START + IDLE, tick=False)
    client = token_client(login(APIClient(), "alice"))
    client.cookies = browser.cookies

    assert client.get("/api/v1/").status_code == 200
    assert not Session.objects.filter(session_key=key).exists()


def test_an_unreadable_last_use_refuses_the_session_with_a_503(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unchecked is refused: an idle session never passes because a read failed."""
    browser = browser_login(alice)
    browser.get("/api/v1/")  # the touch
    key = session_key(browser)

    class Unreachable:
        def filter(self, **kwargs: Any) -> Any:
            raise OperationalError("server closed the connection unexpectedly")

    cache.clear()  # no last use at hand: the database must be read
    monkeypatch.setattr(middleware.UserSession, "objects", Unreachable())

    response = browser.get("/api/v1/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert Session.objects.filter(session_key=key).exists()  # not ended: it may not be idle
