"""The feed keeps failed checks outside sign-in: a wrong password from a signed-in caller
(reauthentication, password change on the API or the admin, e-mail change, deletion) and wrong
passkey assertions, counted per account and hour as failed sign-ins are."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from blogapi.accounts.models import AccountActivity, User
from blogapi.accounts.tests.mfa import Clock, Enrolled, password_step
from blogapi.accounts.tests.test_activity import feed, one
from blogapi.accounts.tests.webauthn import (
    REAUTH_BEGIN,
    REAUTHENTICATE,
    VERIFY,
    SoftAuthenticator,
    login_options,
    register_passkey,
    second_factor_options,
)
from conftest import PASSWORD, login, token_client

AUTH = "/api/v1/dj-rest-auth/"
WRONG = "not the password at all"


def reauthenticate(client: APIClient) -> Any:
    return client.post(f"{AUTH}reauthenticate/", {"password": WRONG}, format="json")


def change_password(client: APIClient) -> Any:
    new = "a brand new passphrase"
    body = {"old_password": WRONG, "new_password1": new, "new_password2": new}
    return client.post(f"{AUTH}password/change/", body, format="json")


def change_email(client: APIClient) -> Any:
    body = {"email": "alice@new.example.org", "password": WRONG}
    return client.post(f"{AUTH}email/", body, format="json")


def delete_account(client: APIClient) -> Any:
    return client.post(f"{AUTH}delete/", {"password": WRONG}, format="json")


@pytest.mark.parametrize(
    "wrong_password", [reauthenticate, change_password, change_email, delete_account]
)
def test_a_wrong_password_of_a_signed_in_caller_is_counted_in_the_feed(
    alice: User, wrong_password: Callable[[APIClient], Any]
) -> None:
    client = token_client(login(APIClient(), "alice"))

    statuses = [wrong_password(client).status_code for _ in range(2)]

    assert statuses == [400, 400]
    rows = feed(client)
    row = one(rows, "password.check_failed")
    assert row["count"] == 2
    assert row["window_end"] is not None
    assert row["details"] == {}
    assert row["actor"] == "self"
    assert "login.failed" not in [r["event"] for r in rows]


def test_a_right_password_leaves_no_failure(alice: User) -> None:
    client = token_client(login(APIClient(), "alice"))

    response = client.post(f"{AUTH}reauthenticate/", {"password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert not AccountActivity.objects.filter(event="password.check_failed").exists()


def test_a_wrong_old_password_on_the_admins_page_is_counted(alice: User) -> None:
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    browser = Client()
    browser.force_login(alice)
    body = {"old_password": WRONG, "new_password1": "x" * 20, "new_password2": "x" * 20}

    response = browser.post("/admin/password_change/", body)

    assert response.status_code == 200  # the form again, with its error
    row = AccountActivity.objects.get(user=alice, event="password.check_failed")
    assert row.count == 1


def test_past_the_limit_the_feed_shows_the_lockout(alice: User, rates: Any) -> None:
    rates(login_failures="2/300")
    client = token_client(login(APIClient(), "alice"))

    statuses = [reauthenticate(client).status_code for _ in range(4)]

    assert statuses == [400, 400, 429, 429]
    counts = dict(AccountActivity.objects.filter(user=alice).values_list("event", "count"))
    assert counts["password.check_failed"] == 2
    assert counts["login.locked"] == 2


def test_wrong_codes_at_reauthentication_and_deletion_are_counted(
    clock: Clock, enrolled: Enrolled
) -> None:
    client = token_client(enrolled.key)

    assert client.post(REAUTHENTICATE, {"code": "000000"}, format="json").status_code == 400
    deletion = client.post(
        f"{AUTH}delete/", {"password": PASSWORD, "code": "000000"}, format="json"
    )

    assert deletion.status_code == 400
    assert one(feed(client), "mfa.code_failed")["count"] == 2


@pytest.fixture
def passkey(alice: User) -> tuple[SoftAuthenticator, APIClient]:
    client = token_client(login(APIClient(), "alice"))
    authenticator = SoftAuthenticator()
    register_passkey(client, authenticator)
    return authenticator, client


def test_wrong_passkey_assertions_are_counted_like_wrong_codes(
    passkey: tuple[SoftAuthenticator, APIClient],
) -> None:
    authenticator, client = passkey
    # At reauthentication, at deletion, and at the second step of a sign-in.
    reauth = authenticator.get(
        client.post(REAUTH_BEGIN).json()["request_options"], origin="https://evil.example"
    )
    assert client.post(REAUTHENTICATE, {"credential": reauth}, format="json").status_code == 400
    deletion = authenticator.get(
        client.post(REAUTH_BEGIN).json()["request_options"], origin="https://evil.example"
    )
    body = {"password": PASSWORD, "credential": deletion}
    assert client.post(f"{AUTH}delete/", body, format="json").status_code == 400
    token = password_step(APIClient())["ephemeral_token"]
    second = authenticator.get(second_factor_options(token), origin="https://evil.example")
    body = {"ephemeral_token": token, "credential": second}
    assert APIClient().post(VERIFY, body, format="json").status_code == 400

    assert one(feed(client), "mfa.code_failed")["count"] == 3


def test_a_refused_passwordless_sign_in_is_a_failed_sign_in(
    passkey: tuple[SoftAuthenticator, APIClient],
) -> None:
    authenticator, client = passkey
    options, token = login_options()
    credential = authenticator.get(options, origin="https://evil.example")

    response = APIClient().post(
        f"{AUTH}mfa/webauthn/login/", {"login_token": token, "credential": credential}, "json"
    )

    assert response.status_code == 400
    assert one(feed(client), "login.failed")["count"] == 1
