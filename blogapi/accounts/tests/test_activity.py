"""The security activity feed over HTTP: what it keeps, whose it shows, how it stays bounded."""

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from allauth.mfa.adapter import DefaultMFAAdapter
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from blogapi.accounts.models import AccountActivity, User, token_digest
from blogapi.accounts.tests.mfa import (
    ACTIVATE,
    Clock,
    Enrolled,
    totp,
)
from blogapi.accounts.tests.test_authentication import basic, basic_enabled  # noqa: F401
from blogapi.accounts.tests.test_races import all_at_once, post_json
from conftest import PASSWORD, login, mailed_link, settings_in_subprocess, token_client

AUTH = "/api/v1/dj-rest-auth/"
ACTIVITY = f"{AUTH}activity/"
LOGIN = f"{AUTH}login/"
REGISTER = f"{AUTH}registration/"
CHANGE = f"{AUTH}password/change/"
RESET = f"{AUTH}password/reset/"
RESET_CONFIRM = f"{AUTH}password/reset/confirm/"
DEACTIVATE = f"{AUTH}mfa/totp/deactivate/"
CONFIRM_LINK = r"https?://[^/\s]+(?P<path>/\S+/account-confirm-email/(?P<key>[^/\s]+)/)"
RESET_LINK = r"/password/reset/confirm/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/"
NEW_PASSWORD = "a brand new passphrase"
NEWER_PASSWORD = "an even newer passphrase"
WRONG = "not the password at all"
PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1"
LAPTOP_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
USERS_ADMIN = "/admin/accounts/user/"
ACTIVITY_ADMIN = "/admin/accounts/accountactivityrecord/"


def feed(client: APIClient, page_size: int = 100) -> list[dict[str, Any]]:
    """Every row of the caller's feed, page after page, as the API answers them."""
    rows: list[dict[str, Any]] = []
    url: str | None = f"{ACTIVITY}?page_size={page_size}"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        rows += response.json()["results"]
        url = response.json()["next"]
    return rows


def events(rows: list[dict[str, Any]]) -> list[str]:
    return [row["event"] for row in rows]


def one(rows: list[dict[str, Any]], event: str) -> dict[str, Any]:
    [row] = [row for row in rows if row["event"] == event]
    return row


def wrong_login(client: APIClient, identifier: str = "alice", **extra: Any) -> int:
    field = "email" if "@" in identifier else "username"
    response = client.post(LOGIN, {field: identifier, "password": WRONG}, format="json", **extra)
    return int(response.status_code)


def stored_rows() -> str:
    """Every column of every stored feed row, as text."""
    return json.dumps(list(AccountActivity.objects.values()), default=str)


# --- Sign-ins ---------------------------------------------------------------------------------


def test_a_sign_in_records_its_method_device_label_ip_and_user_agent(alice: User) -> None:
    phone = APIClient(REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT=PHONE_UA)
    key = phone.post(
        LOGIN,
        {"username": "alice", "password": PASSWORD, "device": "Alice's phone"},
        format="json",
    ).json()["key"]
    laptop = APIClient(REMOTE_ADDR="198.51.100.23", HTTP_USER_AGENT=LAPTOP_UA)
    laptop.post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json")

    rows = feed(token_client(key))

    assert events(rows) == [
        "credential.created",
        "login.succeeded",
        "credential.created",
        "login.succeeded",
    ]
    laptop_created, laptop_login, phone_created, phone_login = rows
    assert phone_login["details"] == {"via": "token"}
    assert phone_login["device"] == "Alice's phone"
    assert phone_login["ip"] == "203.0.113.5"
    assert phone_login["user_agent"] == PHONE_UA
    assert phone_login["actor"] == "self"
    assert phone_login["count"] == 1
    assert phone_login["window_end"] is None
    assert laptop_login["device"] == "Firefox on Linux"  # from the User-Agent
    assert laptop_login["ip"] == "198.51.100.23"
    token_ids = [row["details"]["token_id"] for row in (phone_created, laptop_created)]
    listed = [c["id"] for c in token_client(key).get(f"{AUTH}tokens/").json()]
    assert sorted(f"token-{n}" for n in token_ids) == sorted(listed)
    assert phone_created["details"]["kind"] == "token"
    assert phone_created["device"] == "Alice's phone"


def test_a_browser_session_sign_in_is_recorded_as_a_session(alice: User) -> None:
    browser = Client(HTTP_USER_AGENT=LAPTOP_UA)
    browser.post("/api-auth/login/", {"username": "alice", "password": PASSWORD})

    rows = feed(token_client(login(APIClient(), "alice")))

    session_created, session_login = rows[-2:]  # the oldest two
    assert session_login["event"] == "login.succeeded"
    assert session_login["details"] == {"via": "session"}
    assert session_login["device"] == "Firefox on Linux"
    assert session_created["details"]["kind"] == "session"
    assert "session_id" in session_created["details"]


# --- Failed sign-ins: counted, bounded --------------------------------------------------------


def test_failed_sign_ins_are_one_row_per_account_and_hour_with_a_count(
    alice: User, rates: Any, clock: Clock
) -> None:
    rates(login_failures="1000/300", login_ip="1000/60")
    attacker = APIClient(REMOTE_ADDR="192.0.2.66", HTTP_USER_AGENT="curl/8.5.0")

    for _ in range(200):
        assert wrong_login(attacker) == 400

    assert AccountActivity.objects.count() == 1
    row = one(feed(alice_key_client()), "login.failed")
    assert row["count"] == 200
    assert row["ip"] == "192.0.2.66"
    assert row["device"] == "curl/8.5.0"
    assert row["created_at"] == "2026-12-05T12:00:00Z"
    assert row["window_end"] == "2026-12-05T13:00:00Z"

    clock.shift(timedelta(hours=1))
    assert wrong_login(attacker) == 400

    failed = [r for r in feed(alice_key_client()) if r["event"] == "login.failed"]
    assert [r["count"] for r in failed] == [1, 200]  # a new hour, a new row, newest first


def alice_key_client() -> APIClient:
    return token_client(login(APIClient(REMOTE_ADDR="127.0.0.9"), "alice"))


def test_a_flood_past_the_lockout_stays_two_rows(alice: User, clock: Clock) -> None:
    attacker = APIClient(REMOTE_ADDR="192.0.2.66")
    statuses = [
        wrong_login(attacker, REMOTE_ADDR=f"192.0.2.{n % 200 + 1}")  # many IPs, one account
        for n in range(200)
    ]

    assert statuses.count(400) == 5
    assert statuses.count(429) == 195
    counts = dict(AccountActivity.objects.values_list("event", "count"))
    assert counts == {"login.failed": 5, "login.locked": 195}


def test_failures_on_a_name_that_is_no_account_are_kept_nowhere(db: None) -> None:
    for _ in range(3):
        assert wrong_login(APIClient(), "nobody-at-all") == 400

    assert not AccountActivity.objects.exists()


def test_wrong_codes_at_the_second_step_are_counted_on_the_account(enrolled: Enrolled) -> None:
    anon = APIClient()
    token = anon.post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json").json()[
        "ephemeral_token"
    ]
    for _ in range(3):
        response = anon.post(
            f"{AUTH}mfa/verify/", {"ephemeral_token": token, "code": "000000"}, format="json"
        )
        assert response.status_code == 400

    rows = feed(token_client(enrolled.key))
    assert one(rows, "mfa.code_failed")["count"] == 3
    assert one(rows, "login.mfa_required")["count"] == 1


# --- The whole life of an account -------------------------------------------------------------


def test_the_feed_tells_a_whole_account_lifecycle_and_stores_no_secret(
    db: None, clock: Clock
) -> None:
    anon = APIClient(REMOTE_ADDR="203.0.113.1")
    registration = anon.post(
        REGISTER,
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
        format="json",
    )
    assert registration.status_code == 201
    signup_key = registration.json()["key"]
    confirmation = mailed_link(CONFIRM_LINK)
    assert anon.post(confirmation.group("path")).status_code == 200
    carol = User.objects.get(username="carol")

    phone_key = login(APIClient(HTTP_USER_AGENT=PHONE_UA), "carol")
    laptop_key = login(APIClient(HTTP_USER_AGENT=LAPTOP_UA), "carol")
    typed = "CAROL@Example.COM"  # her address, as a stranger typed it
    for _ in range(5):
        assert wrong_login(anon, typed) == 400
    assert wrong_login(anon, typed) == 429  # locked

    assert anon.post(RESET, {"email": "carol@example.com"}, format="json").status_code == 200
    reset = mailed_link(RESET_LINK)
    reset_done = anon.post(
        RESET_CONFIRM,
        {
            "uid": reset.group("uid"),
            "token": reset.group("token"),
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        format="json",
    )
    assert reset_done.status_code == 200
    key = login(APIClient(HTTP_USER_AGENT=LAPTOP_UA), "carol", NEW_PASSWORD)
    client = token_client(key)
    change = {
        "old_password": NEW_PASSWORD,
        "new_password1": NEWER_PASSWORD,
        "new_password2": NEWER_PASSWORD,
    }
    assert client.post(CHANGE, change, format="json").status_code == 200
    other_key = login(APIClient(), "carol", NEWER_PASSWORD)
    other = client.get(f"{AUTH}tokens/").json()
    other_id = next(c["id"] for c in other if not c["current"])
    assert client.delete(f"{AUTH}tokens/{other_id}/").status_code == 204

    setup = client.get(ACTIVATE).json()
    activated = client.post(
        ACTIVATE,
        {"activation_token": setup["activation_token"], "code": totp(setup["secret"], clock.now)},
        format="json",
    )
    assert activated.status_code == 200
    clock.step()
    reauthenticated_client = token_client(key)
    reauthenticated_client.post(
        f"{AUTH}reauthenticate/", {"password": NEWER_PASSWORD}, format="json"
    )
    code = totp(setup["secret"], clock.now)
    assert reauthenticated_client.post(DEACTIVATE, {"code": code}, format="json").status_code == 200

    rows = feed(client, page_size=7)

    assert list(reversed(events(rows))) == [
        "login.succeeded",  # registration signs in with a key
        "credential.created",
        "login.succeeded",  # the phone
        "credential.created",
        "login.succeeded",  # the laptop
        "credential.created",
        "login.failed",  # five wrong passwords: one row
        "login.locked",
        "password.reset",
        "credential.revoked",  # the reset ended the three keys
        "login.succeeded",
        "credential.created",
        "password.changed",
        "login.succeeded",
        "credential.created",
        "credential.revoked",  # the one revoked by id (TOTP on then had no other to end)
        "mfa.totp_activated",
        "mfa.totp_deactivated",
    ]
    assert one(rows, "login.failed")["count"] == 5
    assert one(rows, "login.locked")["count"] == 1
    reset_revoked = [r for r in rows if r["event"] == "credential.revoked"][-1]
    assert reset_revoked["details"]["count"] == 3
    assert reset_revoked["actor"] == "self"
    assert {r["actor"] for r in rows} == {"self"}

    keys = [signup_key, phone_key, laptop_key, key, other_key]
    secrets = [
        PASSWORD,
        NEW_PASSWORD,
        NEWER_PASSWORD,
        WRONG,
        *keys,
        *(token_digest(k) for k in keys),
        confirmation.group("key"),
        reset.group("token"),
        setup["secret"],
        setup["activation_token"],
        code,
        *activated.json()["recovery_codes"],
        typed,
        typed.lower(),
        "carol@example.com",
    ]
    stored = stored_rows()
    assert [secret for secret in secrets if secret in stored] == []
    answered = json.dumps(rows)
    assert [secret for secret in secrets if secret in answered] == []
    assert AccountActivity.objects.filter(user=carol).count() == len(rows)


def test_jwt_reuse_is_recorded_as_detected_and_revoked_by_the_system(
    alice: User, jwt_mode: None, settings: Any
) -> None:
    settings.AUTH_JWT_REUSE_GRACE = timedelta(0)
    signin = APIClient().post(
        LOGIN, {"username": "alice", "password": PASSWORD, "device": "Work laptop"}, format="json"
    )
    first = signin.json()["refresh"]
    second = APIClient().post(f"{AUTH}token/refresh/", {"refresh": first}, format="json")
    assert second.status_code == 200
    assert (
        APIClient().post(f"{AUTH}token/refresh/", {"refresh": first}, format="json").status_code
        == 401
    )
    other = APIClient().post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json")
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {other.json()['access']}")

    rows = feed(bearer)

    family_id = one(rows, "credential.reuse_detected")["details"]["family_id"]
    assert one(rows, "credential.reuse_detected")["actor"] == "system"
    assert one(rows, "credential.revoked")["details"] == {
        "kind": "jwt",
        "count": 1,
        "ids": [family_id],
    }
    assert one(rows, "credential.revoked")["actor"] == "system"
    created = [r for r in rows if r["event"] == "credential.created"]
    assert created[-1]["details"] == {"kind": "jwt", "family_id": family_id}
    assert created[-1]["device"] == "Work laptop"
    assert [r["details"] for r in rows if r["event"] == "login.succeeded"] == [{"via": "jwt"}] * 2
    assert "credential.refreshed" not in events(rows)  # every few minutes: not in the feed
    stored = stored_rows()
    assert first not in stored
    assert second.json()["refresh"] not in stored


# --- Who sees what ----------------------------------------------------------------------------


def test_the_feed_is_newest_first_in_cursor_pages(alice: User, clock: Clock) -> None:
    client = alice_key_client()
    for _ in range(11):
        clock.shift(timedelta(minutes=1))
        login(APIClient(), "alice")  # two rows each

    rows = feed(client, page_size=5)

    assert len(rows) == 24
    assert len({row["id"] for row in rows}) == 24
    moments = [(row["created_at"], row["id"]) for row in rows]
    assert moments == sorted(moments, reverse=True)
    first = client.get(f"{ACTIVITY}?page_size=5").json()
    assert first["previous"] is None
    assert [r["id"] for r in first["results"]] == [r["id"] for r in rows[:5]]
    assert client.get(f"{ACTIVITY}?cursor=cD1ub3RhZGF0ZQ%3D%3D").status_code == 404


def test_each_user_sees_only_their_own_events(alice: User, bob: User) -> None:
    alice_client = alice_key_client()
    bob_client = token_client(login(APIClient(), "bob"))
    wrong_login(APIClient(), "bob")

    alice_rows, bob_rows = feed(alice_client), feed(bob_client)

    assert {r["id"] for r in alice_rows} == set(
        AccountActivity.objects.filter(user=alice).values_list("pk", flat=True)
    )
    assert {r["id"] for r in bob_rows}.isdisjoint({r["id"] for r in alice_rows})
    assert "login.failed" in events(bob_rows)
    assert "login.failed" not in events(alice_rows)
    assert APIClient().get(ACTIVITY).status_code == 401
    assert alice_client.post(ACTIVITY, {}, format="json").status_code == 405
    assert alice_client.delete(ACTIVITY).status_code == 405


# --- Same transaction ---------------------------------------------------------------------------


def test_a_change_that_rolls_back_leaves_no_row(
    alice: User, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = alice_key_client()
    login(APIClient(), "alice")  # a second key, which turning TOTP on would end
    before = AccountActivity.objects.count()

    def mail_server_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("mail server down")

    # The notice is the last step of the flow's transaction, after the events were reported.
    monkeypatch.setattr(DefaultMFAAdapter, "send_notification_mail", mail_server_down)
    setup = client.get(ACTIVATE).json()
    body = {"activation_token": setup["activation_token"], "code": totp(setup["secret"], clock.now)}
    with pytest.raises(ConnectionError):
        client.post(ACTIVATE, body, format="json")

    assert AccountActivity.objects.count() == before
    assert not AccountActivity.objects.filter(
        event__in=["mfa.totp_activated", "credential.revoked"]
    ).exists()


# --- Staff --------------------------------------------------------------------------------------


def staff_browser(staff: User) -> Client:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    browser.get(USERS_ADMIN)
    return browser


def test_staff_actions_are_recorded_with_the_staff_actor(
    user_factory: Any, enrolled: Enrolled
) -> None:
    staff = user_factory("root", is_staff=True, is_superuser=True)
    browser = staff_browser(staff)
    for action in ("revoke_all_credentials", "remove_mfa"):
        response = browser.post(
            USERS_ADMIN,
            {
                "action": action,
                "_selected_action": [enrolled.user.pk],
                "csrfmiddlewaretoken": browser.cookies["csrftoken"].value,
            },
        )
        assert response.status_code == 302

    staff_rows = AccountActivity.objects.filter(user=enrolled.user, actor="staff")
    assert sorted(staff_rows.values_list("event", flat=True)) == [
        "credential.revoked",
        "mfa.removed_by_staff",
    ]
    assert set(staff_rows.values_list("actor_user_id", flat=True)) == {staff.pk}
    rows = feed(alice_key_client())
    assert one(rows, "mfa.removed_by_staff")["actor"] == "staff"
    assert "actor_user_id" not in rows[0]  # the staff member's id stays in the admin


def test_a_password_set_by_staff_is_recorded_as_theirs_and_a_command_as_the_systems(
    alice: User, user_factory: Any
) -> None:
    staff = user_factory("root", is_staff=True, is_superuser=True)
    login(APIClient(), "alice")
    browser = staff_browser(staff)

    response = browser.post(
        f"{USERS_ADMIN}{alice.pk}/password/",
        {
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "usable_password": "true",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"].value,
        },
    )
    assert response.status_code == 302, response.content
    user = User.objects.get(pk=alice.pk)
    user.set_password(NEWER_PASSWORD)
    user.save()  # a script, a shell: no request

    changes = AccountActivity.objects.filter(user=alice, event="password.changed")
    assert list(changes.order_by("id").values_list("actor", "actor_user_id")) == [
        ("staff", staff.pk),
        ("system", None),
    ]
    revoked = AccountActivity.objects.get(user=alice, event="credential.revoked")
    assert (revoked.actor, revoked.details["count"]) == ("staff", 1)


def test_staff_see_any_users_activity_in_the_admin_read_only(
    alice: User, user_factory: Any
) -> None:
    user_factory("bobby")
    alice_key_client()
    wrong_login(APIClient(), "bobby")
    row = AccountActivity.objects.filter(user=alice).first()
    assert row is not None
    viewer = user_factory("viewer", is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_accountactivityrecord", "view_user"])
    )
    browser = staff_browser(viewer)
    user_page = browser.get(f"{USERS_ADMIN}{alice.pk}/change/")
    link = f"{ACTIVITY_ADMIN}?user__id__exact={alice.pk}"

    listing = browser.get(link)
    detail = browser.get(f"{ACTIVITY_ADMIN}{row.pk}/change/")

    assert link.encode() in user_page.content
    assert listing.status_code == 200
    assert b"login.succeeded" in listing.content
    assert b'field-user nowrap">alice<' in listing.content
    assert b'field-user nowrap">bobby<' not in listing.content
    assert b'field-user nowrap">bobby<' in browser.get(ACTIVITY_ADMIN).content
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    csrf = browser.cookies["csrftoken"].value
    assert browser.get(f"{ACTIVITY_ADMIN}add/").status_code == 403
    assert browser.post(f"{ACTIVITY_ADMIN}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    edited = browser.post(
        f"{ACTIVITY_ADMIN}{row.pk}/change/", {"event": "forged", "csrfmiddlewaretoken": csrf}
    )
    assert edited.status_code == 403
    assert AccountActivity.objects.get(pk=row.pk).event == row.event
    assert Client().get(ACTIVITY_ADMIN).status_code == 302  # to the admin login


def test_a_user_with_activity_can_still_be_deleted_in_the_admin(
    alice: User, user_factory: Any
) -> None:
    alice_key_client()
    Client().post("/api-auth/login/", {"username": "alice", "password": PASSWORD})
    browser = staff_browser(user_factory("root", is_staff=True, is_superuser=True))

    response = browser.post(
        f"{USERS_ADMIN}{alice.pk}/delete/",
        {"post": "yes", "csrfmiddlewaretoken": browser.cookies["csrftoken"].value},
    )

    assert response.status_code == 302
    assert not User.objects.filter(pk=alice.pk).exists()
    # Her credentials' revocation at deletion reported events too: they went with her.
    assert not AccountActivity.objects.filter(user_id=alice.pk).exists()
    connection.check_constraints()


# --- Retention ----------------------------------------------------------------------------------


def test_the_purge_deletes_rows_past_the_retention_and_is_idempotent(
    alice: User, clock: Clock, settings: Any
) -> None:
    settings.AUTH_ACTIVITY_RETENTION = timedelta(days=30)
    alice_key_client()
    old = set(AccountActivity.objects.values_list("pk", flat=True))
    clock.shift(timedelta(days=20))
    wrong_login(APIClient())
    clock.shift(timedelta(days=11))  # the first rows are 31 days old, the failure 11
    out = []

    for _ in range(2):
        call_command("purge_activity", stdout=(buffer := io.StringIO()))
        out.append(buffer.getvalue())

    assert out == [f"Deleted {len(old)} activity row(s).\n", "Deleted 0 activity row(s).\n"]
    assert list(AccountActivity.objects.values_list("event", flat=True)) == ["login.failed"]


def test_a_bad_retention_refuses_to_start() -> None:
    result = settings_in_subprocess({"DJANGO_DEBUG": "true", "AUTH_ACTIVITY_RETENTION": "-5"})

    assert result.returncode != 0
    assert "AUTH_ACTIVITY_RETENTION must be a positive duration" in result.stderr
    days = settings_in_subprocess({"DJANGO_DEBUG": "true"}, "settings.AUTH_ACTIVITY_RETENTION.days")
    assert days.stdout.strip() == "180"


# --- Races ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_simultaneous_failures_count_in_one_row(live_server: Any, alice: User, rates: Any) -> None:
    rates(login_failures="1000/300", login_ip="1000/60")
    url = f"{live_server.url}{LOGIN}"
    body = {"username": "alice", "password": WRONG}

    answers = all_at_once([lambda: post_json(url, body) for _ in range(8)])

    assert [status for status, _ in answers] == [400] * 8
    assert list(AccountActivity.objects.values_list("event", "count")) == [("login.failed", 8)]


@pytest.mark.usefixtures("basic_enabled")
def test_basic_sign_ins_are_counted_not_one_row_per_request(alice: User) -> None:
    client = APIClient(HTTP_AUTHORIZATION=basic("alice", PASSWORD))
    for _ in range(30):
        assert client.get(ACTIVITY).status_code == 200

    row = one(feed(client), "login.succeeded")
    assert row["count"] == 31  # and the feed's own request
    assert row["details"] == {"via": "basic"}
    assert AccountActivity.objects.count() == 1
