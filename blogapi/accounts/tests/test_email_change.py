"""E-mail change through the HTTP API: start, pending state, confirmation, revocation, refusals."""

import json
import logging
import re
import statistics
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from allauth.account import app_settings as allauth_settings
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from django.core import mail
from rest_framework.test import APIClient

from blogapi.accounts.models import User, token_digest
from blogapi.accounts.services.email_change import ADDRESS_TAKEN
from blogapi.accounts.tests.mfa import Clock
from blogapi.accounts.tests.test_email_templates import assert_well_formed, html_of
from blogapi.accounts.tests.test_enumeration import timed
from blogapi.accounts.tests.test_jwt import bearer, jwt_login
from blogapi.accounts.tests.test_races import all_at_once, post_json
from blogapi.core.tests import test_logging
from blogapi.core.tests.tasks import LOCMEM, TASK_BACKEND, ready, run_worker
from blogapi.core.tests.test_logging import FormattedLines
from conftest import PASSWORD, login, token_client

EMAIL = "/api/v1/dj-rest-auth/email/"
VERIFY = "/api/v1/dj-rest-auth/registration/verify-email/"
LOGIN = "/api/v1/dj-rest-auth/login/"
RESET = "/api/v1/dj-rest-auth/password/reset/"
ME = "/api/v1/dj-rest-auth/user/"
NEW = "alice@new.example.org"
STARTED = {"detail": "Confirmation e-mail sent to the new address."}
log_output = test_logging.log_output  # the fixture: every formatted log line of a test
CONFIRM_LINK = r"(https?://\S+/registration/account-confirm-email/(?P<key>[^/\s]+)/)"


def start(client: APIClient, email: str = NEW, password: str = PASSWORD) -> Any:
    return client.post(EMAIL, {"email": email, "password": password}, format="json")


def mails_to(address: str) -> list[Any]:
    return [m for m in mail.outbox if m.to == [address]]


def link_to(address: str) -> re.Match[str]:
    """The confirmation link in the last mail to `address`."""
    match = re.search(CONFIRM_LINK, str(mails_to(address)[-1].body))
    assert match, mails_to(address)[-1].body
    return match


def change_key(client: APIClient, email: str = NEW) -> str:
    """Start a change and return the key mailed to the new address."""
    assert start(client, email).json() == STARTED
    return link_to(email)["key"]


def confirm(key: str, client: APIClient | None = None) -> Any:
    return (client or APIClient()).post(VERIFY, {"key": key}, format="json")


def can_log_in(identifier: str) -> bool:
    field = "email" if "@" in identifier else "username"
    response = APIClient().post(LOGIN, {field: identifier, "password": PASSWORD}, format="json")
    return response.status_code == 200


def addresses(user: User) -> list[tuple[str, bool, bool]]:
    rows = EmailAddress.objects.filter(user=user).order_by("-primary", "pk")
    return [(a.email, a.primary, a.verified) for a in rows]


# --- Listing and starting -------------------------------------------------------------------------


def test_the_list_shows_the_primary_address(alice_client: APIClient) -> None:
    response = alice_client.get(EMAIL)

    assert response.status_code == 200
    assert response.json() == [{"email": "alice@example.com", "primary": True, "verified": True}]
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_callers_get_a_401(api_client: APIClient, db: None, method: str) -> None:
    response = getattr(api_client, method)(EMAIL, {"email": NEW, "password": PASSWORD})

    assert response.status_code == 401
    assert mail.outbox == []


def test_starting_mails_a_link_to_the_new_address_and_a_notice_to_the_old(
    alice_client: APIClient, alice: User
) -> None:
    response = start(alice_client)

    assert response.status_code == 200
    assert response.json() == STARTED
    [confirmation] = mails_to(NEW)
    assert_well_formed(confirmation, link=link_to(NEW).group(1))
    assert "asked to make this address the address of their account" in confirmation.body
    [notice] = mails_to("alice@example.com")
    assert_well_formed(notice)
    assert NEW in notice.body
    assert "://" not in notice.body + html_of(notice).replace("<!doctype", "")
    assert PASSWORD not in notice.body + confirmation.body
    assert alice_client.get(EMAIL).json() == [
        {"email": "alice@example.com", "primary": True, "verified": True},
        {"email": NEW, "primary": False, "verified": False},
    ]
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"


def test_the_link_points_at_the_frontend_when_configured(
    alice_client: APIClient, settings: Any
) -> None:
    settings.FRONTEND_URL = "https://app.example.com"

    start(alice_client)

    [confirmation] = mails_to(NEW)
    assert "https://app.example.com/verify-email/" in confirmation.body


def test_a_pending_change_leaves_sign_in_reset_and_notices_on_the_old_address(
    alice_client: APIClient, alice: User
) -> None:
    assert start(alice_client).json() == STARTED
    mail.outbox.clear()

    assert can_log_in("alice@example.com")
    assert not can_log_in(NEW)
    assert APIClient().post(RESET, {"email": NEW}, format="json").status_code == 200
    assert mails_to(NEW) == []
    APIClient().post(RESET, {"email": "alice@example.com"}, format="json")
    assert len(mails_to("alice@example.com")) == 1
    mail.outbox.clear()
    new_password = "a brand new passphrase"
    alice_client.post(
        "/api/v1/dj-rest-auth/password/change/",
        {"old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password},
        format="json",
    )
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_a_new_request_replaces_the_pending_one(alice_client: APIClient) -> None:
    first = change_key(alice_client)
    second = change_key(alice_client, "alice@other.example.org")

    assert [a["email"] for a in alice_client.get(EMAIL).json()] == [
        "alice@example.com",
        "alice@other.example.org",
    ]
    assert confirm(first).status_code == 400
    assert confirm(second).status_code == 200
    assert User.objects.get(username="alice").email == "alice@other.example.org"


# --- Enumeration ----------------------------------------------------------------------------------


def test_a_taken_address_answers_like_a_free_one_and_its_owner_is_told(
    alice_client: APIClient, user_factory: Callable[..., User], caplog: pytest.LogCaptureFixture
) -> None:
    user_factory("bob", email="bob@example.com")
    caplog.set_level(logging.INFO, logger="blogapi.auth")

    free = start(alice_client, "free@example.org")
    taken = start(alice_client, "BOB@Example.com")

    assert taken.status_code == free.status_code == 200
    assert taken.json() == free.json() == STARTED
    assert taken.headers.keys() == free.headers.keys()
    assert mails_to("BOB@Example.com") == []
    [to_bob] = mails_to("bob@example.com")
    assert "already belongs to your account" in to_bob.body
    assert "://" not in to_bob.body
    assert_well_formed(to_bob)
    # The owner of the account asking is told of both attempts, in the same words.
    assert len(mails_to("alice@example.com")) == 2
    assert not EmailAddress.objects.filter(email__iexact="bob@example.com", primary=False).exists()
    started = [r for r in caplog.records if getattr(r, "event", "") == "email.change_started"]
    assert len(started) == 2
    assert User.objects.get(username="bob").email == "bob@example.com"


@pytest.mark.django_db(transaction=True)
def test_taken_and_free_addresses_take_the_same_time(
    user_factory: Callable[..., User], settings: Any
) -> None:
    settings.RATE_LIMITS = {scope: "100000/60" for scope in settings.RATE_LIMITS}
    settings.EMAIL_BACKEND = TASK_BACKEND  # the production path: each mail a task
    settings.EMAIL_DELIVERY_BACKEND = LOCMEM
    user_factory("alice")
    user_factory("bob")
    client = token_client(login(APIClient(), "alice"))
    taken, free = [], []
    for _ in range(60):
        taken.append(timed(partial(start, client, "bob@example.com")))
        free.append(timed(partial(start, client, "free@example.org")))

    assert abs(statistics.median(taken) - statistics.median(free)) * 1000 < 20
    run_worker()
    assert not ready()
    assert len(mail.outbox) == 2 * 2 * 60  # each start: the link or the owner's notice, and ours


# --- Refusals -------------------------------------------------------------------------------------


def test_a_wrong_password_is_refused_and_nothing_is_mailed(alice_client: APIClient) -> None:
    response = start(alice_client, password="not the password")

    assert response.status_code == 400
    assert response.json() == {"password": ["Incorrect password."]}
    assert mail.outbox == []
    assert len(alice_client.get(EMAIL).json()) == 1


def test_wrong_passwords_count_toward_the_login_lock(
    alice_client: APIClient, rates: Callable[..., None]
) -> None:
    rates(login_failures="2/300")

    assert start(alice_client, password="wrong one").status_code == 400
    assert start(alice_client, password="wrong two").status_code == 400
    locked = start(alice_client)

    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    assert mail.outbox == []
    assert not can_log_in("alice")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "email"),
        ({"email": NEW}, "password"),
        ({"password": PASSWORD}, "email"),
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": ["x@example.com"], "password": PASSWORD}, "email"),
        ({"email": None, "password": PASSWORD}, "email"),
        ({"email": {"a": 1}, "password": PASSWORD}, "email"),
        ({"email": "nul\x00@example.com", "password": PASSWORD}, "email"),
        ({"email": "x" * 250 + "@example.com", "password": PASSWORD}, "email"),
        ({"email": NEW, "password": "x" * 129}, "password"),
        ({"email": NEW, "password": "nul\x00byte"}, "password"),
        ({"email": NEW, "password": 12}, "password"),
        ({"email": "\u0130nfo@example.com", "password": PASSWORD}, "email"),
        ({"email": "ALICE@example.com", "password": PASSWORD}, "email"),
        ({"email": "al\u0131ce@example.com", "password": PASSWORD}, "email"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    alice_client: APIClient, payload: dict[str, Any], field: str
) -> None:
    response = alice_client.post(EMAIL, payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert mail.outbox == []
    assert len(alice_client.get(EMAIL).json()) == 1


def test_malformed_json_is_a_400(alice_client: APIClient) -> None:
    response = alice_client.post(EMAIL, '{"email": ', content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_unknown_fields_change_nothing_else(alice_client: APIClient, alice: User) -> None:
    response = alice_client.post(
        EMAIL,
        {"email": NEW, "password": PASSWORD, "primary": True, "verified": True, "user": 2},
        format="json",
    )

    assert response.status_code == 200
    assert addresses(alice) == [("alice@example.com", True, True), (NEW, False, False)]


@pytest.mark.parametrize(
    ("scope", "second_caller"),
    [
        ("email_change_account", "alice"),
        ("email_change_ip", "bob"),
        ("email_change_address", "bob"),
    ],
)
def test_starts_are_limited_per_account_ip_and_address(
    user_factory: Callable[..., User], rates: Callable[..., None], scope: str, second_caller: str
) -> None:
    rates(**{scope: "1/900"})
    user_factory("alice")
    user_factory("bob")
    clients = {name: token_client(login(APIClient(), name)) for name in ("alice", "bob")}
    target = "shared@example.org"

    assert start(clients["alice"], target).status_code == 200
    mail.outbox.clear()
    refused = start(clients[second_caller], target)

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert mail.outbox == []


# --- Confirmation ---------------------------------------------------------------------------------


def test_confirming_switches_the_address_and_notifies_both(
    alice_client: APIClient, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="blogapi.auth")
    key = change_key(alice_client)
    mail.outbox.clear()

    response = confirm(key)

    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.email == NEW
    assert alice.email_canonical == NEW.upper().casefold()
    assert addresses(alice) == [(NEW, True, True)]
    assert can_log_in(NEW)
    assert not can_log_in("alice@example.com")
    [old_notice] = mails_to("alice@example.com")
    assert "changed from alice@example.com to alice@new.example.org" in old_notice.body
    assert_well_formed(old_notice)
    [new_notice] = mails_to(NEW)
    assert "is now the e-mail address of your account" in new_notice.body
    assert_well_formed(new_notice)
    events = {
        r.__dict__["event"]: r.__dict__["user_id"]
        for r in caplog.records
        if str(r.__dict__.get("event", "")).startswith("email")
    }
    assert events == {"email.change_started": alice.pk, "email.change_confirmed": alice.pk}
    assert NEW not in caplog.text
    assert "alice@example.com" not in caplog.text


def test_after_the_change_reset_goes_to_the_new_address(alice_client: APIClient) -> None:
    confirm(change_key(alice_client))
    mail.outbox.clear()

    APIClient().post(RESET, {"email": "alice@example.com"}, format="json")
    APIClient().post(RESET, {"email": NEW}, format="json")

    assert [m.to for m in mail.outbox] == [[NEW]]


def test_the_old_address_is_free_and_old_reset_links_are_dead_after_the_change(
    alice_client: APIClient,
) -> None:
    APIClient().post(RESET, {"email": "alice@example.com"}, format="json")
    reset = re.search(
        r"/reset/confirm/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/", str(mail.outbox[-1].body)
    )
    assert reset
    confirm(change_key(alice_client))

    new_password = {
        "new_password1": "a brand new passphrase",
        "new_password2": "a brand new passphrase",
    }
    dead = APIClient().post(
        RESET + "confirm/", {**reset.groupdict(), **new_password}, format="json"
    )
    again = APIClient().post(
        "/api/v1/dj-rest-auth/registration/",
        {
            "username": "mallory",
            "email": "alice@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
        format="json",
    )

    assert dead.status_code == 400
    assert again.status_code == 201
    assert User.objects.get(username="mallory").email == "alice@example.com"


def test_the_mailed_page_confirms_the_change_on_post_only(alice_client: APIClient) -> None:
    start(alice_client)
    link = link_to(NEW).group(1)

    assert APIClient().get(link).status_code == 200
    assert User.objects.get(username="alice").email == "alice@example.com"
    done = APIClient().post(link)

    assert done.status_code == 200
    assert b"E-mail address confirmed" in done.content
    assert User.objects.get(username="alice").email == NEW


def test_confirming_from_a_link_revokes_every_credential(alice: User) -> None:
    phone = token_client(login(APIClient(), "alice"))
    laptop = token_client(login(APIClient(), "alice"))
    key = change_key(phone)

    assert confirm(key).status_code == 200

    assert phone.get(ME).status_code == 401
    assert laptop.get(ME).status_code == 401


def test_confirming_signed_in_keeps_that_credential_only(alice: User) -> None:
    phone = token_client(login(APIClient(), "alice"))
    laptop = token_client(login(APIClient(), "alice"))
    key = change_key(laptop)

    assert confirm(key, phone).status_code == 200

    assert phone.get(ME).status_code == 200
    assert laptop.get(ME).status_code == 401
    assert User.objects.get(username="alice").email == NEW


def test_a_next_change_right_after_one_notifies_the_new_current_address(alice: User) -> None:
    phone = token_client(login(APIClient(), "alice"))
    assert confirm(change_key(phone), phone).status_code == 200
    mail.outbox.clear()

    assert start(phone, "alice@third.example.org").json() == STARTED

    assert sorted(m.to[0] for m in mail.outbox) == [NEW, "alice@third.example.org"]


def test_a_key_confirmed_by_another_user_keeps_none_of_the_owners_credentials(
    alice_client: APIClient, bob_client: APIClient
) -> None:
    key = change_key(alice_client)

    assert confirm(key, bob_client).status_code == 200

    assert alice_client.get(ME).status_code == 401
    assert bob_client.get(ME).json()["email"] == "bob@example.com"
    assert User.objects.get(username="alice").email == NEW


def test_confirming_ends_jwt_sign_ins(alice: User, jwt_mode: None) -> None:
    access = jwt_login()["access"]
    key = change_key(bearer(access))

    assert confirm(key).status_code == 200

    assert bearer(access).get(ME).status_code == 401


def test_a_used_key_is_refused(alice_client: APIClient) -> None:
    key = change_key(alice_client)
    assert confirm(key).status_code == 200
    mail.outbox.clear()

    again = confirm(key)

    assert again.status_code == 400
    assert "invalid" in again.json()["detail"]
    assert mail.outbox == []


def test_a_key_whose_change_is_replaced_while_it_is_checked_is_a_400(
    alice_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = change_key(alice_client)
    read_key = EmailConfirmationHMAC.from_key

    def replaced_meanwhile(key: str) -> EmailConfirmationHMAC | None:
        confirmation = read_key(key)
        assert start(alice_client, "alice@other.example.org").json() == STARTED
        return confirmation

    monkeypatch.setattr(EmailConfirmationHMAC, "from_key", staticmethod(replaced_meanwhile))

    response = confirm(key)

    assert response.status_code == 400
    assert "invalid" in response.json()["detail"]
    assert User.objects.get(username="alice").email == "alice@example.com"


def test_an_expired_key_is_refused_and_changes_nothing(clock: Clock, alice: User) -> None:
    client = token_client(login(APIClient(), "alice"))
    key = change_key(client)
    clock.shift(timedelta(days=allauth_settings.EMAIL_CONFIRMATION_EXPIRE_DAYS, seconds=1))

    response = confirm(key)

    assert response.status_code == 400
    assert "invalid" in response.json()["detail"]
    assert User.objects.get(username="alice").email == "alice@example.com"
    assert client.get(ME).status_code == 200


def test_an_address_taken_meanwhile_is_a_clear_400_and_nothing_is_written(
    alice_client: APIClient, alice: User, user_factory: Callable[..., User]
) -> None:
    key = change_key(alice_client)
    user_factory("carol", email=NEW.upper())
    mail.outbox.clear()

    response = confirm(key)

    assert response.status_code == 400
    assert response.json() == {"detail": ADDRESS_TAKEN}
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"
    assert addresses(alice) == [("alice@example.com", True, True), (NEW, False, False)]
    assert alice_client.get(ME).status_code == 200
    assert mail.outbox == []


def test_the_page_names_an_address_taken_meanwhile(
    alice_client: APIClient, user_factory: Callable[..., User]
) -> None:
    key = change_key(alice_client)
    user_factory("carol", email=NEW)

    page = APIClient().post(f"/api/v1/dj-rest-auth/registration/account-confirm-email/{key}/")

    assert page.status_code == 400
    assert b"belongs to another account" in page.content


def test_a_change_completes_under_mandatory_verification(
    alice_client: APIClient, settings: Any
) -> None:
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"

    assert confirm(change_key(alice_client)).status_code == 200

    assert can_log_in(NEW)


def test_an_unconfirmed_account_can_change_its_address(
    user_factory: Callable[..., User],
) -> None:
    carol = user_factory("carol", email_verified=False)
    client = token_client(login(APIClient(), "carol"))

    assert confirm(change_key(client, "carol@new.example.org")).status_code == 200

    assert addresses(carol) == [("carol@new.example.org", True, True)]


def test_no_secret_or_address_reaches_the_logs_in_an_email_change(
    alice: User, log_output: FormattedLines
) -> None:
    key = login(APIClient(), "alice")
    client = token_client(key)
    assert start(client, password="not the password").status_code == 400
    assert start(client, "bob@example.com").json() == STARTED  # a free one, then replaced
    assert start(client).json() == STARTED
    confirmation = link_to(NEW)
    assert APIClient().post(confirmation.group(1)).status_code == 200  # the page
    assert APIClient().post(confirmation.group(1)).status_code == 400  # used

    written = "\n".join(log_output.json_lines + log_output.text_lines)
    mailed = "\n".join(str(m.body) for m in mail.outbox)
    secrets = [PASSWORD, "not the password", key, token_digest(key), confirmation["key"]]
    secrets += ["alice@example.com", NEW, "bob@example.com"]
    secrets += [line for line in mailed.splitlines() if len(line) > 15]
    assert [secret for secret in secrets if secret in written] == []
    assert "/account-confirm-email/***/" in written
    events = [line["event"] for line in log_output.objects("blogapi.auth")]
    assert events.count("email.change_started") == 2
    assert events.count("email.change_confirmed") == 1


# --- Races ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_accounts_confirming_one_address_at_once_make_one_owner(
    live_server: Any, user_factory: Callable[..., User], settings: Any
) -> None:
    settings.RATE_LIMITS = {scope: "1000/60" for scope in settings.RATE_LIMITS}
    keys = []
    for name in ("alice", "bob", "dave", "erin"):
        user_factory(name)
        keys.append(change_key(token_client(login(APIClient(), name)), "contested@example.org"))
        mail.outbox.clear()

    url = f"{live_server.url}{VERIFY}"
    results = all_at_once([partial(post_json, url, {"key": key}) for key in keys])

    assert sorted(status for status, _ in results) == [200, 400, 400, 400], results
    assert all(body == {"detail": ADDRESS_TAKEN} for status, body in results if status == 400)
    [owner] = User.objects.filter(email="contested@example.org")
    assert addresses(owner) == [("contested@example.org", True, True)]
    assert EmailAddress.objects.filter(email="contested@example.org", verified=True).count() == 1
    for user in User.objects.exclude(pk=owner.pk):
        assert user.email == f"{user.username}@example.com"
        assert addresses(user)[0] == (user.email, True, True)


def post_with_token(url: str, key: str, body: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 - the test's own live server
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.django_db(transaction=True)
def test_simultaneous_starts_leave_one_pending_change_with_a_working_link(
    live_server: Any, alice: User, settings: Any
) -> None:
    settings.RATE_LIMITS = {scope: "1000/60" for scope in settings.RATE_LIMITS}
    key = login(APIClient(), "alice")
    url = f"{live_server.url}{EMAIL}"
    bodies = [{"email": f"alice{i}@new.example.org", "password": PASSWORD} for i in range(6)]

    results = all_at_once([partial(post_with_token, url, key, body) for body in bodies])

    assert results == [(200, STARTED)] * 6
    [(pending, primary, verified)] = addresses(alice)[1:]
    assert (primary, verified) == (False, False)
    assert confirm(link_to(pending)["key"]).status_code == 200
    assert User.objects.get(username="alice").email == pending
