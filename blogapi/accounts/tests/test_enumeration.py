"""No endpoint tells whether an address has an account: same status, body and time."""

import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
import yaml
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings as django_settings
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from blogapi.accounts.services.password import BAD_LINK, BAD_LINK_FIELD
from blogapi.core.models import OutgoingMail
from blogapi.core.tests.tasks import LOCMEM, TASK_BACKEND, ready, run_worker
from conftest import PASSWORD, mailed_link

REGISTER = "/api/v1/dj-rest-auth/registration/"
RESET = "/api/v1/dj-rest-auth/password/reset/"
RESEND = "/api/v1/dj-rest-auth/registration/resend-email/"
UNLIMITED = {scope: "100000/60" for scope in django_settings.RATE_LIMITS}


@pytest.fixture
def mandatory(settings: Any) -> None:
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"


@pytest.fixture
def unlimited(settings: Any) -> None:
    settings.RATE_LIMITS = UNLIMITED


@pytest.fixture
def queued_mail_to_outbox(settings: Any) -> None:
    """The production path: the request enqueues, the task worker delivers (here to the outbox)."""
    settings.EMAIL_BACKEND = TASK_BACKEND
    settings.EMAIL_DELIVERY_BACKEND = LOCMEM


def register(client: APIClient, username: str, email: str) -> Any:
    return client.post(
        REGISTER,
        {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD},
        format="json",
    )


@pytest.mark.usefixtures("mandatory")
def test_registering_a_taken_address_answers_like_a_new_one(
    api_client: APIClient, alice: User
) -> None:
    new = register(api_client, "carol", "carol@example.com")
    taken = register(api_client, "mallory", "alice@example.com")

    assert taken.status_code == new.status_code == 201
    assert taken.json() == new.json() == {"detail": "Verification e-mail sent."}
    assert not User.objects.filter(username="mallory").exists()
    to_alice = [m for m in mail.outbox if m.to == ["alice@example.com"]]
    assert len(to_alice) == 1
    assert "already" in to_alice[0].body.lower()
    assert PASSWORD not in to_alice[0].body


def test_with_optional_verification_a_taken_address_is_a_400(
    api_client: APIClient, alice: User
) -> None:
    response = register(api_client, "mallory", "Alice@Example.com")

    assert response.status_code == 400
    assert "email" in response.json()


@pytest.mark.parametrize("path", [RESET, RESEND])
def test_mail_requests_answer_alike_for_known_and_unknown_addresses(
    api_client: APIClient, user_factory: Callable[..., User], path: str
) -> None:
    user_factory("alice", email_verified=False)

    known = api_client.post(path, {"email": "alice@example.com"}, format="json")
    unknown = api_client.post(path, {"email": "nobody@example.com"}, format="json")

    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()
    assert known.headers.keys() == unknown.headers.keys()
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_a_look_alike_address_never_receives_the_owners_reset_link(
    api_client: APIClient, user_factory: Callable[..., User]
) -> None:
    user_factory("mike", email="mike@example.com")

    response = api_client.post(RESET, {"email": "m\u0131ke@example.com"}, format="json")

    assert response.status_code == 200
    assert [m.to for m in mail.outbox] == [["mike@example.com"]]


@pytest.mark.parametrize(
    "look_alike", ["m\u0131ke@example.com", "MIKE@example.com", "mike@EXAMPLE.com"]
)
def test_look_alike_addresses_cannot_register_twice(
    api_client: APIClient, user_factory: Callable[..., User], look_alike: str
) -> None:
    user_factory("mike", email="mike@example.com")

    response = register(api_client, "mallory", look_alike)

    assert response.status_code == 400
    assert User.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("queued_mail_to_outbox")
def test_mail_is_delivered_by_the_task_worker(api_client: APIClient, alice: User) -> None:
    mail.outbox.clear()

    response = api_client.post(RESET, {"email": "alice@example.com"}, format="json")

    assert response.status_code == 200
    assert mail.outbox == []
    run_worker()
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


@pytest.mark.django_db(transaction=True)
def test_a_dead_mail_server_changes_no_answer(
    api_client: APIClient, alice: User, settings: Any
) -> None:
    settings.EMAIL_BACKEND = TASK_BACKEND
    settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2

    reset = api_client.post(RESET, {"email": "alice@example.com"}, format="json")
    signup = register(api_client, "carol", "carol@example.com")

    assert reset.status_code == 200
    assert reset.json() == {"detail": "Password reset e-mail has been sent."}
    assert signup.status_code == 201
    assert User.objects.filter(username="carol").exists()
    run_worker()  # both attempts fail (nothing listens on port 1): retries are scheduled
    assert OutgoingMail.objects.filter(status=OutgoingMail.Status.QUEUED).count() == 2


def median_ms(durations: list[float]) -> float:
    return statistics.median(durations) * 1000


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - start
    assert response.status_code < 300, response.content
    return elapsed


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("unlimited", "queued_mail_to_outbox")
@pytest.mark.parametrize("path", [RESET, RESEND])
def test_known_and_unknown_addresses_take_the_same_time(
    api_client: APIClient, user_factory: Callable[..., User], path: str
) -> None:
    user_factory("alice", email_verified=False)
    known, unknown = [], []
    for _ in range(100):
        known.append(timed(lambda: api_client.post(path, {"email": "alice@example.com"})))
        unknown.append(timed(lambda: api_client.post(path, {"email": "nobody@example.com"})))

    assert abs(median_ms(known) - median_ms(unknown)) < 20
    assert len(ready()) == 100  # each known request queued its mail


@pytest.mark.slow_hasher
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("unlimited", "mandatory", "queued_mail_to_outbox")
def test_registration_takes_the_same_time_for_taken_and_new_addresses(
    api_client: APIClient, user_factory: Callable[..., User]
) -> None:
    user_factory("alice")
    taken, new = [], []
    for i in range(100):
        taken.append(timed(partial(register, api_client, f"taken{i}", "alice@example.com")))
        new.append(timed(partial(register, api_client, f"new{i}", f"new{i}@example.com")))

    assert abs(median_ms(taken) - median_ms(new)) < 20
    assert User.objects.count() == 101
    assert len(ready()) == 200


# --- Reset confirmation: one answer for every link that cannot be used ---------------------------

RESET_CONFIRM = "/api/v1/dj-rest-auth/password/reset/confirm/"
RESET_LINK = r"/password/reset/confirm/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/"
NEW_PASSWORDS = {
    "new_password1": "a brand new passphrase",
    "new_password2": "a brand new passphrase",
}
Link = dict[str, str]


def reset_link_for(client: APIClient, email: str) -> Link:
    assert client.post(RESET, {"email": email}, format="json").status_code == 200
    link = mailed_link(RESET_LINK)
    return {"uid": link.group("uid"), "token": link.group("token")}


def unknown_uid(link: Link, alice: User, client: APIClient, clock: Any) -> Link:
    return {**link, "uid": user_pk_to_url_str(User(pk=alice.pk + 1000))}


def malformed_uid(link: Link, alice: User, client: APIClient, clock: Any) -> Link:
    return {**link, "uid": "!!"}


def out_of_range_uid(link: Link, alice: User, client: APIClient, clock: Any) -> Link:
    return {**link, "uid": "zzzzzzzzzzzzz"}  # base36 for a number beyond any primary key


def overlong_uid(link: Link, alice: User, client: APIClient, clock: Any) -> Link:
    return {**link, "uid": "1" * 65}


def inactive_user(link: Link, alice: User, client: APIClient, clock: Any) -> Link:
    alice.is_active = False
    alice.save()
    return link


def wrong_token(link: Link, alice: User, client: APIClient, clock: Any) -> Link:
    return {**link, "token": link["token"][:-1] + ("b" if link["token"].endswith("a") else "a")}


def expired_token(link: Link, alice: User, client: APIClient, clock: Any) -> Link:
    clock.move_to(timezone.now() + timedelta(hours=1, minutes=1))  # PASSWORD_RESET_TIMEOUT: 1 h
    return link


def used_token(link: Link, alice: User, client: APIClient, clock: Any) -> Link:
    assert client.post(RESET_CONFIRM, link | NEW_PASSWORDS, format="json").status_code == 200
    return link


BAD_LINKS = [
    pytest.param(unknown_uid, id="unknown-uid"),
    pytest.param(malformed_uid, id="malformed-uid"),
    pytest.param(out_of_range_uid, id="out-of-range-uid"),
    pytest.param(overlong_uid, id="overlong-uid"),
    pytest.param(inactive_user, id="inactive-user"),
    pytest.param(wrong_token, id="real-user-wrong-token"),
    pytest.param(expired_token, id="expired-token"),
    pytest.param(used_token, id="used-token"),
]


@pytest.fixture
def bobs_bad_link(api_client: APIClient, bob: User) -> Any:
    """The answer to a real, active user's link with a made-up token."""
    link = reset_link_for(api_client, "bob@example.com")
    return api_client.post(RESET_CONFIRM, {**link, "token": "x-y"} | NEW_PASSWORDS, format="json")


@pytest.mark.parametrize("spoil", BAD_LINKS)
def test_every_unusable_reset_link_gets_the_same_answer(
    api_client: APIClient,
    alice: User,
    bobs_bad_link: Any,
    time_machine: Any,
    spoil: Callable[..., Link],
) -> None:
    link = spoil(reset_link_for(api_client, "alice@example.com"), alice, api_client, time_machine)

    response = api_client.post(RESET_CONFIRM, link | NEW_PASSWORDS, format="json")

    assert response.status_code == bobs_bad_link.status_code == 400
    assert response.json() == bobs_bad_link.json() == {BAD_LINK_FIELD: [BAD_LINK]}
    assert response.headers.keys() == bobs_bad_link.headers.keys()


@pytest.mark.parametrize("spoil", BAD_LINKS)
def test_the_reset_page_answers_every_unusable_link_alike(
    api_client: APIClient,
    alice: User,
    bob: User,
    time_machine: Any,
    spoil: Callable[..., Link],
) -> None:
    bobs = reset_link_for(api_client, "bob@example.com")
    reference = api_client.post(f"{RESET_CONFIRM}{bobs['uid']}/x-y/", NEW_PASSWORDS)
    link = spoil(reset_link_for(api_client, "alice@example.com"), alice, api_client, time_machine)

    response = api_client.post(f"{RESET_CONFIRM}{link['uid']}/{link['token']}/", NEW_PASSWORDS)

    assert response.status_code == reference.status_code == 400
    assert response.content == reference.content
    assert b"This link cannot be used" in response.content


def test_a_missing_uid_or_token_is_named_like_any_missing_field(
    api_client: APIClient, db: None
) -> None:
    response = api_client.post(RESET_CONFIRM, NEW_PASSWORDS, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "uid": ["This field is required."],
        "token": ["This field is required."],
    }


def test_the_schema_documents_the_one_answer_as_it_is(
    api_client: APIClient, bobs_bad_link: Any
) -> None:
    schema = yaml.safe_load(api_client.get("/api/schema/").content)

    refused = schema["paths"][RESET_CONFIRM]["post"]["responses"]["400"]
    examples = refused["content"]["application/json"]["examples"]
    assert {"value": bobs_bad_link.json(), "summary": "Any link that cannot be used"} in (
        examples.values()
    )
    assert "reveals no account" in refused["description"]
