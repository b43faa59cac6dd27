"""Where the account's lifecycle flows meet: an e-mail change and a deletion, staff removing the
factors of an account awaiting deletion, and what the feed keeps of a deletion request."""

from datetime import timedelta
from typing import Any

from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from blogapi.accounts.models import AccountDeletion, User
from blogapi.accounts.services.email_change import DELETION_PENDING
from blogapi.accounts.tests.mfa import Enrolled
from blogapi.accounts.tests.test_activity import feed, one
from blogapi.accounts.tests.test_email_change import NEW, change_key, confirm
from blogapi.accounts.tests.test_mfa_admin import admin_browser, remove_mfa
from conftest import PASSWORD, login, token_client

AUTH = "/api/v1/dj-rest-auth/"
DELETE = f"{AUTH}delete/"
LOGIN = f"{AUTH}login/"


def addresses(user: User) -> list[tuple[str, bool]]:
    return list(EmailAddress.objects.filter(user=user).values_list("email", "primary"))


def sign_in(password: str = PASSWORD) -> Any:
    return APIClient().post(LOGIN, {"username": "alice", "password": password}, format="json")


def test_a_deletion_request_drops_a_pending_email_change(alice: User) -> None:
    client = token_client(login(APIClient(), "alice"))
    key = change_key(client)

    assert client.post(DELETE, {"password": PASSWORD}, format="json").status_code == 202
    response = confirm(key)

    assert response.status_code == 400
    assert "invalid" in response.json()["detail"]
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"
    assert addresses(alice) == [("alice@example.com", True)]


def test_a_change_left_pending_by_a_race_is_not_confirmed_while_deletion_is_pending(
    alice: User,
) -> None:
    client = token_client(login(APIClient(), "alice"))
    key = change_key(client)
    # What a deletion committed just after this change started leaves: the change still pending
    # (the request drops it only when it comes second).
    now = timezone.now()
    AccountDeletion.objects.create(user=alice, requested_at=now, erase_at=now + timedelta(days=7))
    mail.outbox.clear()

    response = confirm(key)

    assert response.status_code == 400
    assert response.json() == {"detail": DELETION_PENDING}
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"
    assert (NEW, False) in addresses(alice)
    assert not mail.outbox
    assert AccountDeletion.objects.filter(user=alice).exists()


def test_after_the_deletion_is_cancelled_the_address_can_change_again(alice: User) -> None:
    client = token_client(login(APIClient(), "alice"))
    change_key(client)
    assert client.post(DELETE, {"password": PASSWORD}, format="json").status_code == 202

    key = change_key(token_client(sign_in().json()["key"]))  # the sign-in cancels the deletion

    assert confirm(key).status_code == 200
    alice.refresh_from_db()
    assert alice.email == NEW


def test_the_feed_shows_when_a_requested_deletion_would_erase_the_account(alice: User) -> None:
    client = token_client(login(APIClient(), "alice"))
    erase_at = client.post(DELETE, {"password": PASSWORD}, format="json").json()["erase_at"]

    rows = feed(token_client(sign_in().json()["key"]))

    details = one(rows, "account.deletion_requested")["details"]
    assert parse_datetime(details["erase_at"]) == parse_datetime(erase_at)
    assert one(rows, "account.deletion_cancelled")["details"] == {}


def test_staff_removing_the_factors_of_an_account_awaiting_deletion_keep_the_deletion(
    enrolled: Enrolled, user_factory: Any
) -> None:
    root = user_factory("root", is_staff=True, is_superuser=True)
    code = enrolled.recovery_codes[0]
    deletion = token_client(enrolled.key).post(
        DELETE, {"password": PASSWORD, "code": code}, format="json"
    )
    assert deletion.status_code == 202
    browser: Client = admin_browser(root)

    assert remove_mfa(browser, enrolled.user) == 302

    # A staff action is not the owner's sign-in: the deletion stays pending ...
    assert AccountDeletion.objects.filter(user=enrolled.user).exists()
    # ... until the owner signs in, now with the password alone.
    assert "key" in sign_in().json()
    assert not AccountDeletion.objects.filter(user=enrolled.user).exists()
