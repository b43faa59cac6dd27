"""Per-device tokens over HTTP: one per login, hashed, expiring, listable, revocable."""

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from allauth.usersessions.models import UserSession
from django.core.management import call_command
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from blogapi.accounts import credential_cache
from blogapi.accounts.models import DeviceToken, User
from conftest import PASSWORD, token_client

LOGIN = "/api/v1/dj-rest-auth/login/"
LOGOUT = "/api/v1/dj-rest-auth/logout/"
LOGOUT_ALL = "/api/v1/dj-rest-auth/logout-all/"
TOKENS = "/api/v1/dj-rest-auth/tokens/"
CHANGE = "/api/v1/dj-rest-auth/password/change/"
ME = "/api/v1/dj-rest-auth/user/"
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def works(key: str) -> bool:
    return token_client(key).get(ME).status_code == 200


def login_as(username: str, **body: str) -> str:
    response = APIClient().post(
        LOGIN,
        {"username": username, "password": PASSWORD, **body},
        format="json",
        HTTP_USER_AGENT=body.pop("agent", "pytest-client/1.0"),
    )
    assert response.status_code == 200, response.content
    return str(response.json()["key"])


def browser_login(user: User) -> Client:
    """A browser signed in through the browsable API's login form."""
    browser = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
    response = browser.post("/api-auth/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def test_each_login_gets_its_own_key_and_logout_ends_only_that_one(alice: User) -> None:
    phone, web = login_as("alice"), login_as("alice")

    assert phone != web
    assert token_client(phone).post(LOGOUT).status_code == 200
    assert not works(phone)
    assert works(web)


def test_keys_are_long_random_and_recognisable(alice: User) -> None:
    key = login_as("alice")

    assert key.startswith("blogapi_")
    assert len(key) == len("blogapi_") + 43  # 32 random bytes, base64url


def test_the_database_holds_only_a_digest_of_the_key(alice: User) -> None:
    key = login_as("alice")

    token = DeviceToken.objects.get()
    assert token.digest == hashlib.sha256(key.encode()).hexdigest()
    secret_part = key.removeprefix("blogapi_")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_devicetoken")
        rows = cursor.fetchall()
    dump = repr(rows)
    assert secret_part not in dump
    assert secret_part[:12] not in dump


def test_registration_answers_a_working_per_device_key(api_client: APIClient, db: None) -> None:
    response = api_client.post(
        "/api/v1/dj-rest-auth/registration/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
        format="json",
    )

    assert response.status_code == 201
    assert works(response.json()["key"])
    assert DeviceToken.objects.filter(user__username="carol").count() == 1


def test_list_shows_every_token_with_current_marked_and_no_secret(alice: User) -> None:
    phone = login_as("alice", device="Alice's phone")
    web = login_as("alice", agent="Mozilla/5.0 (Macintosh; Mac OS X 14) Safari/605.1")

    response = token_client(phone).get(TOKENS)

    assert response.status_code == 200
    listed = {c["label"]: c for c in response.json()}
    assert set(listed) == {"Alice's phone", "Safari on macOS"}
    assert listed["Alice's phone"]["current"] is True
    assert listed["Safari on macOS"]["current"] is False
    for credential in listed.values():
        assert credential["kind"] == "token"
        assert credential["id"].startswith("token-")
        assert credential["last_ip"] == "127.0.0.1"
        assert credential["expires_at"]
    assert set(listed["Alice's phone"]) == {
        "id",
        "kind",
        "label",
        "created_at",
        "last_used_at",
        "expires_at",
        "last_ip",
        "user_agent",
        "current",
    }
    for key in (phone, web):
        assert key.removeprefix("blogapi_")[:12] not in response.content.decode()


def test_list_shows_browser_sessions_which_can_be_revoked(alice: User) -> None:
    browser = browser_login(alice)
    phone = login_as("alice")

    sessions = [c for c in token_client(phone).get(TOKENS).json() if c["kind"] == "session"]

    assert len(sessions) == 1
    assert sessions[0]["label"] == "Browser session (Firefox on Linux)"
    assert sessions[0]["current"] is False
    assert browser.get(ME).status_code == 200
    assert token_client(phone).delete(f"{TOKENS}{sessions[0]['id']}/").status_code == 204
    assert browser.get(ME).status_code == 401
    assert works(phone)


def test_the_session_in_use_is_marked_current(alice: User) -> None:
    browser = browser_login(alice)

    listed = browser.get(TOKENS).json()

    assert [c["current"] for c in listed if c["kind"] == "session"] == [True]


def test_revoke_one_token_by_id(alice: User) -> None:
    phone, web = login_as("alice"), login_as("alice")
    web_id = next(c["id"] for c in token_client(phone).get(TOKENS).json() if not c["current"])

    response = token_client(phone).delete(f"{TOKENS}{web_id}/")

    assert response.status_code == 204
    assert not works(web)
    assert works(phone)
    assert token_client(phone).delete(f"{TOKENS}{web_id}/").status_code == 404


def test_revoking_someone_elses_token_is_a_404(alice: User, bob: User) -> None:
    alices = login_as("alice")
    bobs = login_as("bob")
    bobs_id = token_client(bobs).get(TOKENS).json()[0]["id"]

    response = token_client(alices).delete(f"{TOKENS}{bobs_id}/")

    assert response.status_code == 404
    assert works(bobs)


def test_revoking_someone_elses_session_is_a_404(alice: User, bob: User) -> None:
    bobs_browser = browser_login(bob)
    bobs_session = UserSession.objects.get(user=bob)

    response = token_client(login_as("alice")).delete(f"{TOKENS}session-{bobs_session.pk}/")

    assert response.status_code == 404
    assert bobs_browser.get(ME).status_code == 200


@pytest.mark.parametrize(
    "credential_id",
    [
        "token-",
        "token-abc",
        "session-x",
        "other-1",
        "token-99999999999999999999999",
        "1",
        "token-1%00",
    ],
)
def test_malformed_credential_ids_are_a_404(alice: User, credential_id: str) -> None:
    response = token_client(login_as("alice")).delete(f"{TOKENS}{credential_id}/")

    assert response.status_code == 404


def test_tokens_endpoints_need_authentication(api_client: APIClient, db: None) -> None:
    assert api_client.get(TOKENS).status_code == 401
    assert api_client.delete(f"{TOKENS}token-1/").status_code == 401
    assert api_client.post(LOGOUT_ALL).status_code == 401


def test_logout_all_ends_every_token_and_session(alice: User, bob: User) -> None:
    phone, web = login_as("alice"), login_as("alice")
    browser = browser_login(alice)
    bobs = login_as("bob")

    response = token_client(phone).post(LOGOUT_ALL)

    assert response.status_code == 200
    assert not works(phone)
    assert not works(web)
    assert browser.get(ME).status_code == 401
    assert not UserSession.objects.filter(user=alice).exists()
    assert works(bobs)


def test_logout_ends_the_token_and_the_session_in_use(api_client: APIClient, alice: User) -> None:
    # A form login (browsable API) opens a session beside the token.
    key = api_client.post(LOGIN, {"username": "alice", "password": PASSWORD}).json()["key"]
    other = login_as("alice")

    assert api_client.post(LOGOUT, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200

    assert not works(key)
    assert api_client.get(ME).status_code == 401
    assert works(other)


def test_an_unused_token_expires_after_the_idle_timeout(alice: User, time_machine: Any) -> None:
    time_machine.move_to(START, tick=False)
    key = login_as("alice")

    time_machine.move_to(START + timedelta(days=7, seconds=-1), tick=False)
    assert works(key)
    time_machine.move_to(START + timedelta(days=14, seconds=-2), tick=False)
    assert works(key)
    time_machine.move_to(START + timedelta(days=21), tick=False)
    response = token_client(key).get(ME)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": "Token has expired."}


def test_a_used_token_still_expires_at_its_absolute_lifetime(
    alice: User, time_machine: Any
) -> None:
    time_machine.move_to(START, tick=False)
    key = login_as("alice")

    for day in range(5, 30, 5):
        time_machine.move_to(START + timedelta(days=day), tick=False)
        assert works(key), day
    time_machine.move_to(START + timedelta(days=30), tick=False)
    response = token_client(key).get(ME)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_lifetimes_follow_settings(alice: User, time_machine: Any, settings: Any) -> None:
    settings.AUTH_TOKEN_TTL = timedelta(hours=12)
    settings.AUTH_TOKEN_IDLE_TTL = timedelta(minutes=30)
    time_machine.move_to(START, tick=False)
    key = login_as("alice")

    time_machine.move_to(START + timedelta(minutes=29), tick=False)
    assert works(key)
    time_machine.move_to(START + timedelta(minutes=58), tick=False)
    assert works(key)
    time_machine.move_to(START + timedelta(minutes=89), tick=False)
    assert not works(key)


def test_last_used_is_written_at_most_once_a_minute(
    alice: User, time_machine: Any, django_assert_num_queries: Any
) -> None:
    time_machine.move_to(START, tick=False)
    client = token_client(login_as("alice"))
    time_machine.move_to(START + timedelta(seconds=30), tick=False)

    with django_assert_num_queries(1):  # token + user, nothing written
        client.get(ME)
    assert DeviceToken.objects.get().last_used_at == START

    time_machine.move_to(START + timedelta(seconds=61), tick=False)
    # token + user (unless Redis holds them since the last request), then one UPDATE
    with django_assert_num_queries(1 if credential_cache.cache_is_shared() else 2):
        client.get(ME, HTTP_USER_AGENT="curl/8.5.0")
    token = DeviceToken.objects.get()
    assert token.last_used_at == START + timedelta(seconds=61)
    assert token.user_agent == "curl/8.5.0"


def test_password_change_keeps_the_key_used_and_ends_every_other(alice: User) -> None:
    current, other = login_as("alice"), login_as("alice")
    browser = browser_login(alice)
    new = "a brand new passphrase"

    response = token_client(current).post(
        CHANGE,
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
        format="json",
    )

    assert response.status_code == 200
    assert works(current)
    assert not works(other)
    assert browser.get(ME).status_code == 401
    assert [c["current"] for c in token_client(current).get(TOKENS).json()] == [True]


def test_password_change_in_a_browser_keeps_that_session_only(alice: User) -> None:
    browser = browser_login(alice)
    other_browser = browser_login(alice)
    key = login_as("alice")
    new = "a brand new passphrase"

    response = browser.post(
        CHANGE, {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )

    assert response.status_code == 200
    assert browser.get(ME).status_code == 200
    assert other_browser.get(ME).status_code == 401
    assert not works(key)
    listed = browser.get(TOKENS).json()
    assert [(c["kind"], c["current"]) for c in listed] == [("session", True)]


def test_password_reset_ends_every_credential(api_client: APIClient, alice: User) -> None:
    from conftest import mailed_link

    keys = [login_as("alice"), login_as("alice")]
    browser = browser_login(alice)
    api_client.post("/api/v1/dj-rest-auth/password/reset/", {"email": "alice@example.com"})
    link = mailed_link(r"/confirm/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/")

    response = api_client.post(
        "/api/v1/dj-rest-auth/password/reset/confirm/",
        {
            "uid": link["uid"],
            "token": link["token"],
            "new_password1": "a brand new passphrase",
            "new_password2": "a brand new passphrase",
        },
        format="json",
    )

    assert response.status_code == 200
    assert not any(works(key) for key in keys)
    assert browser.get(ME).status_code == 401
    assert not DeviceToken.objects.filter(user=alice).exists()


def test_deactivating_a_user_ends_every_credential_at_once(alice: User) -> None:
    key = login_as("alice")
    browser = browser_login(alice)

    User.objects.filter(pk=alice.pk).update(is_active=False)

    response = token_client(key).get(ME)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert browser.get(ME).status_code == 401


def test_deleting_a_user_deletes_their_tokens(alice: User) -> None:
    key = login_as("alice")

    alice.delete()

    assert not DeviceToken.objects.exists()
    assert not works(key)


def test_a_user_keeps_at_most_the_configured_number_of_tokens(
    alice: User, settings: Any, time_machine: Any
) -> None:
    settings.AUTH_TOKEN_MAX_PER_USER = 3
    keys = []
    for minute in range(4):
        time_machine.move_to(START + timedelta(minutes=minute), tick=False)
        keys.append(login_as("alice"))

    assert DeviceToken.objects.filter(user=alice).count() == 3
    assert not works(keys[0])
    assert all(works(key) for key in keys[1:])


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        (
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile",
            "Chrome on Android",
        ),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1", "Safari on iOS"),
        ("Mozilla/5.0 (Windows NT 10.0) Chrome/126.0 Safari/537.36 Edg/126.0", "Edge on Windows"),
        ("curl/8.5.0", "curl/8.5.0"),
        ("", "Unknown device"),
    ],
)
def test_label_defaults_to_the_user_agent(alice: User, agent: str, label: str) -> None:
    login_as("alice", agent=agent)

    assert DeviceToken.objects.get().label == label


@pytest.mark.parametrize("device", ["x" * 101, ["list"], {"a": 1}])
def test_bad_device_labels_are_a_400(api_client: APIClient, alice: User, device: Any) -> None:
    response = api_client.post(
        LOGIN, {"username": "alice", "password": PASSWORD, "device": device}, format="json"
    )

    assert response.status_code == 400
    assert "device" in response.json()
    assert not DeviceToken.objects.exists()


def test_purge_command_deletes_only_expired_tokens(
    alice: User, time_machine: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    time_machine.move_to(START, tick=False)
    old = login_as("alice")
    time_machine.move_to(START + timedelta(days=6), tick=False)
    fresh = login_as("alice")
    time_machine.move_to(START + timedelta(days=8), tick=False)

    call_command("purge_expired_tokens")

    assert "Deleted 1 expired token(s) and 0 JWT sign-in(s)." in capsys.readouterr().out
    assert DeviceToken.objects.count() == 1
    assert works(fresh)
    assert not works(old)


def test_admin_shows_tokens_without_any_secret(
    alice: User, user_factory: Callable[..., User], client: Client
) -> None:
    key = login_as("alice", device="Alice's phone")
    token = DeviceToken.objects.get()
    admin = user_factory("root", is_staff=True, is_superuser=True)
    client.force_login(admin)

    for url in (
        "/admin/accounts/devicetoken/",
        f"/admin/accounts/devicetoken/{token.pk}/change/",
        f"/admin/accounts/user/{alice.pk}/change/",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        html = page.content.decode()
        assert "Alice&#x27;s phone" in html, url
        assert key.removeprefix("blogapi_")[:12] not in html, url
        assert token.digest not in html, url


def test_admin_shows_sessions_without_their_key(
    alice: User, user_factory: Callable[..., User], client: Client
) -> None:
    browser_login(alice)
    session = UserSession.objects.get()
    client.force_login(user_factory("root", is_staff=True, is_superuser=True))

    for url in (
        f"/admin/accounts/user/{alice.pk}/change/",
        "/admin/usersessions/usersession/",
        f"/admin/usersessions/usersession/{session.pk}/change/",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert "Firefox" in page.content.decode(), url
        assert session.session_key not in page.content.decode(), url


def test_admin_action_revokes_every_credential_of_a_user(
    alice: User, bob: User, user_factory: Callable[..., User], client: Client
) -> None:
    alices, bobs = login_as("alice"), login_as("bob")
    client.force_login(user_factory("root", is_staff=True, is_superuser=True))

    response = client.post(
        "/admin/accounts/user/",
        {"action": "revoke_all_credentials", "_selected_action": [alice.pk]},
    )

    assert response.status_code == 302
    assert not works(alices)
    assert works(bobs)


def test_a_browser_sessions_last_use_is_recorded_at_most_once_a_minute(
    alice: User, time_machine: Any
) -> None:
    time_machine.move_to(START, tick=False)
    browser = browser_login(alice)
    time_machine.move_to(START + timedelta(seconds=30), tick=False)
    browser.get(ME)
    assert UserSession.objects.get().last_seen_at == START

    time_machine.move_to(START + timedelta(seconds=61), tick=False)
    browser.get(ME)
    assert UserSession.objects.get().last_seen_at == START + timedelta(seconds=61)


def test_no_key_appears_in_logs(
    api_client: APIClient, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    key = login_as("alice")
    token_client(key).get(ME)
    token_client(key[:-1] + "x").get(ME)
    token_client(key).post(LOGOUT)
    token_client(key).get(ME)

    assert caplog.records
    assert key.removeprefix("blogapi_")[:12] not in caplog.text
