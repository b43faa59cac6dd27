"""Password policy (NIST 800-63B / ASVS) at registration, change and reset; hashing; notices."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher, make_password
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from conftest import PASSWORD, mailed_link, token_client

REGISTER = "/api/v1/dj-rest-auth/registration/"
LOGIN = "/api/v1/dj-rest-auth/login/"
CHANGE = "/api/v1/dj-rest-auth/password/change/"
RESET = "/api/v1/dj-rest-auth/password/reset/"
RESET_CONFIRM = "/api/v1/dj-rest-auth/password/reset/confirm/"
RESET_LINK = r"/confirm/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/"

ACCEPTED = [
    "x7!kq2m#pw9z",  # exactly 12 characters
    "y" + "correct horse battery staple " * 4 + "z" * 11,  # exactly 128 characters
    "  spaces at both ends count  ",
    "ünïcödé pässwörd with émoji 🎉",
    "all lowercase passphrase words",  # no composition rules
]
REFUSED = [
    "x7!kq2m#pw9",  # 11 characters
    "y" * 3 + "correct horse battery staple " * 4 + "z" * 11,  # 130 characters
    "aaaaaaaaaaaaaaa",  # repetitive
    "abcabcabcabcabc",  # a short repeated unit
    "123456789012",  # sequential
    "qwertyuiopasdf",  # keyboard run
    "123456123456",  # Django's common-password list
    "carol the bloggers",  # too similar to the username "carol_the_blogger"
]


assert (len(ACCEPTED[0]), len(ACCEPTED[1]), len(REFUSED[0]), len(REFUSED[1])) == (12, 128, 11, 130)


def register(client: APIClient, password: str) -> Any:
    return client.post(
        REGISTER,
        {
            "username": "carol_the_blogger",
            "email": "carol@example.com",
            "password1": password,
            "password2": password,
        },
        format="json",
    )


def can_log_in(username: str, password: str) -> bool:
    response = APIClient().post(LOGIN, {"username": username, "password": password}, format="json")
    return response.status_code == 200


@pytest.mark.parametrize("password", ACCEPTED)
def test_registration_accepts_policy_passwords_exactly_as_typed(
    api_client: APIClient, db: None, password: str
) -> None:
    assert register(api_client, password).status_code == 201
    assert can_log_in("carol_the_blogger", password)
    if password != password.strip():
        assert not can_log_in("carol_the_blogger", password.strip())


@pytest.mark.parametrize("password", REFUSED)
def test_registration_refuses_passwords_against_the_policy(
    api_client: APIClient, db: None, password: str
) -> None:
    response = register(api_client, password)

    assert response.status_code == 400
    assert response.json()
    assert not User.objects.exists()


@pytest.mark.parametrize("password", REFUSED[:6])
def test_password_change_applies_the_same_policy(alice_client: APIClient, password: str) -> None:
    response = alice_client.post(
        CHANGE,
        {"old_password": PASSWORD, "new_password1": password, "new_password2": password},
        format="json",
    )

    assert response.status_code == 400
    assert can_log_in("alice", PASSWORD)


def test_password_change_refuses_a_password_like_the_username(
    user_factory: Callable[..., User],
) -> None:
    user_factory("wonderland_alice")
    client = APIClient()
    key = client.post(
        LOGIN, {"username": "wonderland_alice", "password": PASSWORD}, format="json"
    ).json()["key"]

    response = token_client(key).post(
        CHANGE,
        {
            "old_password": PASSWORD,
            "new_password1": "wonderland alice",
            "new_password2": "wonderland alice",
        },
        format="json",
    )

    assert response.status_code == 400


@pytest.mark.parametrize("password", REFUSED[:6])
def test_password_reset_applies_the_same_policy(
    api_client: APIClient, alice: User, password: str
) -> None:
    api_client.post(RESET, {"email": "alice@example.com"}, format="json")
    link = mailed_link(RESET_LINK)

    response = api_client.post(
        RESET_CONFIRM,
        {
            "uid": link["uid"],
            "token": link["token"],
            "new_password1": password,
            "new_password2": password,
        },
        format="json",
    )

    assert response.status_code == 400
    assert can_log_in("alice", PASSWORD)


def test_an_overlong_login_password_is_refused_without_being_hashed(
    api_client: APIClient, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = MD5PasswordHasher.encode

    def counting_encode(self: MD5PasswordHasher, password: str, salt: str) -> str:
        calls.append(password)
        return original(self, password, salt)

    monkeypatch.setattr(MD5PasswordHasher, "encode", counting_encode)

    response = api_client.post(LOGIN, {"username": "alice", "password": "p" * 129}, format="json")

    assert response.status_code == 400
    assert "password" in response.json()
    assert calls == []
    api_client.post(LOGIN, {"username": "alice", "password": "p" * 128}, format="json")
    assert calls, "the spy must see hashing of a 128-character attempt"


@pytest.mark.parametrize("field", ["new_password1", "old_password"])
def test_password_change_refuses_overlong_fields(alice_client: APIClient, field: str) -> None:
    body = {"old_password": PASSWORD, "new_password1": "n" * 20, "new_password2": "n" * 20}
    body[field] = "q" * 129

    response = alice_client.post(CHANGE, body, format="json")

    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.slow_hasher
def test_new_passwords_are_hashed_with_argon2id_at_owasp_parameters(
    api_client: APIClient, db: None
) -> None:
    register(api_client, ACCEPTED[0])

    stored = User.objects.get().password
    assert stored.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.slow_hasher
def test_older_hashes_are_upgraded_at_the_next_login(user_factory: Callable[..., User]) -> None:
    alice = user_factory("alice")
    User.objects.filter(pk=alice.pk).update(
        password=make_password(PASSWORD, hasher="pbkdf2_sha256")
    )

    assert can_log_in("alice", PASSWORD)

    assert User.objects.get(pk=alice.pk).password.startswith("argon2$argon2id$")
    assert can_log_in("alice", PASSWORD)


def test_password_change_sends_a_notice_without_secrets(alice_client: APIClient) -> None:
    new = "a brand new passphrase"
    mail.outbox.clear()

    alice_client.post(
        CHANGE,
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
        format="json",
    )

    assert len(mail.outbox) == 1
    notice = mail.outbox[0]
    assert notice.to == ["alice@example.com"]
    assert "changed" in notice.subject.lower()
    assert new not in notice.body
    assert PASSWORD not in notice.body


def test_password_reset_sends_a_notice_without_secrets(api_client: APIClient, alice: User) -> None:
    api_client.post(RESET, {"email": "alice@example.com"}, format="json")
    link = mailed_link(RESET_LINK)
    new = "a brand new passphrase"

    api_client.post(
        RESET_CONFIRM,
        {"uid": link["uid"], "token": link["token"], "new_password1": new, "new_password2": new},
        format="json",
    )

    assert len(mail.outbox) == 2
    notice = mail.outbox[1]
    assert notice.to == ["alice@example.com"]
    assert "reset" in notice.subject.lower()
    assert new not in notice.body
    assert link["token"] not in notice.body


def test_reset_links_expire_after_an_hour(
    api_client: APIClient, alice: User, time_machine: Any
) -> None:
    start = timezone.now()
    time_machine.move_to(start, tick=False)
    api_client.post(RESET, {"email": "alice@example.com"}, format="json")
    link = mailed_link(RESET_LINK)
    new = "a brand new passphrase"
    body = {"uid": link["uid"], "token": link["token"], "new_password1": new, "new_password2": new}

    time_machine.move_to(start + timedelta(minutes=61), tick=False)
    response = api_client.post(RESET_CONFIRM, body, format="json")

    assert response.status_code == 400
    assert "token" in response.json()
    assert can_log_in("alice", PASSWORD)
