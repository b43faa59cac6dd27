"""Brute-force and flooding limits on every path that checks a password or a secret."""

import base64
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings as django_settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.views import APIView

from blogapi.accounts.authentication import BasicCredentialsAuthentication
from blogapi.accounts.models import User
from blogapi.core.models import RateLimitBucket
from conftest import PASSWORD, fullwidth, mailed_link, token_client

LOGIN = "/api/v1/dj-rest-auth/login/"
WRONG = "not the right password"


def json_login(identifier: str, password: str, **headers: Any) -> Any:
    field = "email" if "@" in identifier else "username"
    return APIClient().post(
        LOGIN, {field: identifier, "password": password}, format="json", **headers
    )


def fail_logins(count: int, identifier: str = "alice", **headers: Any) -> None:
    for _ in range(count):
        assert json_login(identifier, WRONG, **headers).status_code == 400


def assert_throttled(response: Any, window: int = 300) -> None:
    assert response.status_code == 429, response.content
    assert 1 <= int(response["Retry-After"]) <= window
    assert "throttled" in response.json()["detail"]


def test_five_failures_lock_the_account_even_for_the_right_password(alice: User) -> None:
    fail_logins(5)

    assert_throttled(json_login("alice", PASSWORD))


def test_the_lock_ends_with_its_window(alice: User, time_machine: Any) -> None:
    start = timezone.now()
    time_machine.move_to(start, tick=False)
    fail_logins(5)
    assert_throttled(json_login("alice", PASSWORD))

    time_machine.move_to(start + timedelta(seconds=301), tick=False)
    assert json_login("alice", PASSWORD).status_code == 200


def test_username_and_email_share_one_account_counter(alice: User) -> None:
    fail_logins(3, "alice")
    fail_logins(2, "ALICE@example.com")

    assert_throttled(json_login("alice@example.com", PASSWORD))


# Accounts and spellings of their names that all sign in to them: full-width letters, the
# Kelvin sign, ß for ss, the ligature fi, a dotless i, a dotted capital I, and mixed case.
ACCOUNT_SPELLINGS = [
    pytest.param(
        "kissfinn",
        "kissfinn@example.com",
        [
            "KISSFINN",
            fullwidth("kissfinn"),
            "\u212aiss\ufb01nn",
            "kißfinn",
            "k\u0131ssf\u0131nn",
            f"Kiß{fullwidth('FINN')}",
        ],
        id="username",
    ),
    pytest.param(
        "kissfinn",
        "kissfinn@example.com",
        [
            "KISSFINN@EXAMPLE.COM",
            f"kissfinn@{fullwidth('example')}.{fullwidth('com')}",
            "\u212aiss\ufb01nn@example.com",
            "kißfinn@example.com",
            "k\u0131ssf\u0131nn@EXAMPLE.com",
            f"{fullwidth('KISSFINN')}@example.com",
        ],
        id="address",
    ),
    pytest.param(
        "İnci",
        "inci@example.com",
        ["İNCI", "i\u0307nci", f"İ{fullwidth('NCI')}", "I\u0307nci", "İnc\u0131", "İnci"],
        id="dotted-capital-i",
    ),
]


def login_as(identifier: str, password: str) -> Any:
    """A login with the name in `username`, which takes addresses too (as allauth's does)."""
    return APIClient().post(LOGIN, {"username": identifier, "password": password}, format="json")


@pytest.mark.parametrize(("username", "email", "spellings"), ACCOUNT_SPELLINGS)
def test_every_spelling_that_signs_in_counts_against_the_one_account(
    user_factory: Callable[..., User],
    time_machine: Any,
    username: str,
    email: str,
    spellings: list[str],
) -> None:
    user = user_factory(username, email=email)
    for spelling in spellings:
        signed_in = login_as(spelling, PASSWORD)
        assert signed_in.status_code == 200, (spelling, signed_in.content)
        me = token_client(signed_in.json()["key"]).get("/api/v1/dj-rest-auth/user/")
        assert me.json()["pk"] == user.pk
    start = timezone.now()
    time_machine.move_to(start, tick=False)

    for spelling in spellings[:5]:
        assert login_as(spelling, WRONG).status_code == 400

    assert_throttled(login_as(username, PASSWORD))
    assert_throttled(login_as(spellings[5], PASSWORD))
    time_machine.move_to(start + timedelta(seconds=299), tick=False)
    assert_throttled(login_as(email, PASSWORD))
    time_machine.move_to(start + timedelta(seconds=301), tick=False)
    assert login_as(username, PASSWORD).status_code == 200


def test_a_kelvin_sign_address_is_charged_to_its_account(user_factory: Callable[..., User]) -> None:
    # allauth's backend lower-cased this address and signed it in, while the lock looked it up
    # with the database's ASCII-only case-insensitivity and gave it a fresh counter.
    user_factory("kissfinn", email="kissfinn@example.com")
    kelvin = "\u212aissfinn@example.com"
    assert login_as(kelvin, PASSWORD).status_code == 200

    for _ in range(5):
        assert login_as(kelvin, WRONG).status_code == 400

    assert_throttled(login_as("kissfinn", PASSWORD))


def test_spellings_of_an_unknown_name_share_one_counter(db: None) -> None:
    for spelling in ["nobody", "NOBODY", fullwidth("nobody"), "NoBoDy", f"{fullwidth('n')}obody"]:
        assert login_as(spelling, WRONG).status_code == 400

    assert_throttled(login_as(fullwidth("NOBODY"), WRONG))


def test_successes_do_not_count_but_do_not_reset_failures(alice: User) -> None:
    fail_logins(4)
    assert json_login("alice", PASSWORD).status_code == 200
    fail_logins(1)

    assert_throttled(json_login("alice", PASSWORD))


def test_unknown_accounts_lock_the_same_way(db: None) -> None:
    fail_logins(5, "nobody")

    assert_throttled(json_login("nobody", WRONG))


def test_a_forged_x_forwarded_for_changes_nothing(alice: User, rates: Any) -> None:
    rates(login_ip="4/60")
    for i in range(4):
        json_login(f"user{i}", WRONG, HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")

    assert_throttled(json_login("alice", PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9"))


def test_a_trusted_proxy_makes_x_forwarded_for_the_client(
    alice: User, rates: Any, settings: Any
) -> None:
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    rates(login_ip="2/60")
    json_login("bob", WRONG, HTTP_X_FORWARDED_FOR="203.0.113.1")
    json_login("bob", WRONG, HTTP_X_FORWARDED_FOR="203.0.113.1")

    assert_throttled(json_login("alice", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.1"))
    assert json_login("alice", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 200


def test_the_ip_budget_limits_attempts_across_accounts(db: None, rates: Any) -> None:
    rates(login_ip="3/60")
    for name in ("ann", "ben", "cid"):
        assert json_login(name, WRONG).status_code == 400

    assert_throttled(json_login("dan", WRONG))


def test_limits_are_checked_before_any_password_hashing(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_logins(5)
    hashed: list[str] = []
    original = MD5PasswordHasher.encode

    def counting_encode(self: MD5PasswordHasher, password: str, salt: str) -> str:
        hashed.append(password)
        return original(self, password, salt)

    monkeypatch.setattr(MD5PasswordHasher, "encode", counting_encode)

    for _ in range(10):
        assert json_login("alice", WRONG).status_code == 429

    assert hashed == []


def form_login(client: Client, url: str, password: str) -> Any:
    return client.post(url, {"username": "alice", "password": password})


@pytest.mark.parametrize("url", ["/api-auth/login/", "/admin/login/"])
def test_browser_logins_share_the_account_lock(alice: User, url: str) -> None:
    alice.is_staff = True
    alice.save()
    browser = Client()
    for _ in range(5):
        assert form_login(browser, url, WRONG).status_code == 200  # the form again

    locked = form_login(browser, url, PASSWORD)
    assert_throttled(locked)
    assert_throttled(json_login("alice", PASSWORD))


def test_basic_auth_shares_the_account_lock(alice: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        APIView,
        "authentication_classes",
        [*APIView.authentication_classes, BasicCredentialsAuthentication],
    )

    def basic(password: str) -> Any:
        credentials = base64.b64encode(f"alice:{password}".encode()).decode()
        return APIClient().get("/api/v1/", HTTP_AUTHORIZATION=f"Basic {credentials}")

    for _ in range(5):
        assert basic(WRONG).status_code == 401
    assert_throttled(basic(PASSWORD))


def test_wrong_old_passwords_count_as_failed_logins(alice_client: APIClient) -> None:
    change = "/api/v1/dj-rest-auth/password/change/"
    new = "a brand new passphrase"
    for _ in range(5):
        response = alice_client.post(
            change,
            {"old_password": WRONG, "new_password1": new, "new_password2": new},
            format="json",
        )
        assert response.status_code == 400

    assert_throttled(
        alice_client.post(
            change,
            {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
            format="json",
        )
    )
    assert_throttled(json_login("alice", PASSWORD))


def test_a_password_reset_ends_the_lock(api_client: APIClient, alice: User) -> None:
    fail_logins(5)
    api_client.post("/api/v1/dj-rest-auth/password/reset/", {"email": "alice@example.com"})
    link = mailed_link(r"/confirm/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/")
    new = "a brand new passphrase"

    response = api_client.post(
        "/api/v1/dj-rest-auth/password/reset/confirm/",
        {"uid": link["uid"], "token": link["token"], "new_password1": new, "new_password2": new},
    )

    assert response.status_code == 200
    assert json_login("alice", new).status_code == 200


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/dj-rest-auth/password/reset/", "email"),
        ("/api/v1/dj-rest-auth/registration/resend-email/", "email"),
    ],
)
@pytest.mark.parametrize("address", ["alice@example.com", "nobody@example.com"])
def test_mail_endpoints_are_limited_per_address_known_or_not(
    api_client: APIClient, alice: User, path: str, field: str, address: str
) -> None:
    if "resend" in path:
        EmailAddress.objects.filter(user=alice).update(verified=False)
    answers = [api_client.post(path, {field: address}, format="json") for _ in range(3)]
    assert {r.status_code for r in answers} == {200}
    sent = len(mail.outbox)

    assert_throttled(api_client.post(path, {field: address.upper()}, format="json"), window=900)
    assert len(mail.outbox) == sent
    assert api_client.post(path, {field: "other@example.com"}, format="json").status_code == 200


@pytest.mark.parametrize(
    ("scope", "path", "body"),
    [
        ("signup_ip", "/api/v1/dj-rest-auth/registration/", {"username": "x"}),
        ("verify_email_ip", "/api/v1/dj-rest-auth/registration/verify-email/", {"key": "k"}),
        ("resend_email_ip", "/api/v1/dj-rest-auth/registration/resend-email/", {"email": "e"}),
        ("password_reset_ip", "/api/v1/dj-rest-auth/password/reset/", {"email": "e"}),
        ("password_reset_confirm_ip", "/api/v1/dj-rest-auth/password/reset/confirm/", {"uid": "1"}),
    ],
)
def test_secret_checking_endpoints_have_a_per_ip_budget(
    api_client: APIClient, db: None, rates: Any, scope: str, path: str, body: dict[str, str]
) -> None:
    rates(**{scope: "2/60"})
    for _ in range(2):
        assert api_client.post(path, body, format="json").status_code == 400

    assert_throttled(api_client.post(path, body, format="json"))


@pytest.mark.parametrize(
    ("scope", "path"),
    [
        ("verify_email_ip", "/api/v1/dj-rest-auth/registration/account-confirm-email/abc/"),
        ("password_reset_confirm_ip", "/api/v1/dj-rest-auth/password/reset/confirm/1/abc/"),
    ],
)
def test_the_mailed_pages_share_those_budgets(
    client: Client, db: None, rates: Any, scope: str, path: str
) -> None:
    rates(**{scope: "1/60"})
    assert client.post(path, {"new_password1": "x", "new_password2": "x"}).status_code == 400

    assert_throttled(client.post(path, {"new_password1": "x", "new_password2": "x"}))


def test_counters_live_in_the_shared_store(alice: User) -> None:
    fail_logins(1)

    if django_settings.REDIS_URL:
        from blogapi.core.ratelimit import _redis

        keys = _redis(django_settings.REDIS_URL).keys("rl:login_failures:*")
        assert keys
    else:
        bucket = RateLimitBucket.objects.get(bucket=f"rl:login_failures:user:{alice.pk}")
        assert bucket.count == 1


def test_a_locked_account_does_not_block_other_accounts(alice: User, bob: User) -> None:
    fail_logins(5)

    assert json_login("bob", PASSWORD).status_code == 200
    assert (
        token_client(json_login("bob", PASSWORD).json()["key"]).get("/api/v1/").status_code == 200
    )


def test_the_429_body_says_when_to_retry(alice: User) -> None:
    fail_logins(5)

    response = json_login("alice", PASSWORD)

    seconds = int(response["Retry-After"])
    assert re.search(rf"available in {seconds} seconds", response.json()["detail"])


@pytest.mark.skipif(bool(django_settings.REDIS_URL), reason="Redis expires its own windows")
def test_purge_command_deletes_closed_database_windows(
    alice: User, time_machine: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from django.core.management import call_command

    start = timezone.now()
    time_machine.move_to(start, tick=False)
    fail_logins(1)
    time_machine.move_to(start + timedelta(seconds=100), tick=False)
    json_login("bob", WRONG)  # a second window, still open at the purge
    time_machine.move_to(start + timedelta(seconds=301), tick=False)

    call_command("purge_rate_limits")

    # Closed: alice's account window and the IP window (both opened at the start).
    assert "Deleted 2 closed rate-limit window(s)." in capsys.readouterr().out
    assert list(RateLimitBucket.objects.values_list("bucket", flat=True)) == [
        "rl:login_failures:name:bob"
    ]


def test_failed_token_checks_have_a_per_ip_budget(alice: User, rates: Any) -> None:
    rates(token_failures_ip="3/60")
    good = json_login("alice", PASSWORD).json()["key"]
    for _ in range(3):
        assert token_client("blogapi_" + "A" * 43).get("/api/v1/").status_code == 401

    assert_throttled(token_client("blogapi_" + "B" * 43).get("/api/v1/"), window=60)
    assert token_client(good).get("/api/v1/").status_code == 200


def test_valid_token_requests_are_not_counted(alice: User, rates: Any) -> None:
    rates(token_failures_ip="2/60")
    client = token_client(json_login("alice", PASSWORD).json()["key"])

    for _ in range(5):
        assert client.get("/api/v1/").status_code == 200
