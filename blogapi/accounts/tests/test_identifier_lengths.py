"""Usernames and addresses are checked at the columns' limits once normalized: a clear 400,
never a cut address, never a 5xx (the PostgreSQL pass enforces the column sizes)."""

from collections.abc import Callable
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from conftest import PASSWORD

REGISTER = "/api/v1/dj-rest-auth/registration/"
LOGIN = "/api/v1/dj-rest-auth/login/"
RESET = "/api/v1/dj-rest-auth/password/reset/"
RESEND = "/api/v1/dj-rest-auth/registration/resend-email/"
DOTTED_I = "\u0130"  # 'İ': lower-cased it is two characters
FFI = "\ufb03"  # 'ﬃ': NFKC makes it three letters


def address(length: int, *, domain_start: str = "") -> str:
    """An address of exactly `length` characters, with labels a validator accepts."""
    domain = domain_start + "d" * 40 + "." + ("e" * 49 + ".") * ((length - 120) // 50) + "com"
    local = "u" * (length - 1 - len(domain))
    result = f"{local}@{domain}"
    assert len(result) == length
    return result


def register(*, username: str = "carol", email: str = "carol@example.com") -> Any:
    return APIClient().post(
        REGISTER,
        {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD},
        format="json",
    )


def too_long(response: Any, field: str, limit: int) -> bool:
    """A 400 naming the field and its limit (ours, or DRF's for text too long as typed)."""
    assert response.status_code == 400, response.content
    messages = " ".join(response.json()[field])
    return (
        f"at most {limit} characters" in messages or f"no more than {limit} characters" in messages
    )


@pytest.mark.parametrize(
    "email",
    [
        pytest.param(address(255), id="255-characters"),
        pytest.param(address(254, domain_start=DOTTED_I), id="255-once-lower-cased"),
        pytest.param(address(253, domain_start=FFI), id="255-once-nfkc-normalized"),
    ],
)
def test_registering_an_address_longer_than_254_once_normalized_is_refused(
    db: None, email: str
) -> None:
    response = register(email=email)

    assert too_long(response, "email", 254)
    assert not User.objects.exists()
    assert not EmailAddress.objects.exists()
    assert mail.outbox == []


@pytest.mark.parametrize(
    "email",
    [
        pytest.param(address(254), id="254-characters"),
        pytest.param(address(253, domain_start=DOTTED_I), id="254-once-lower-cased"),
        pytest.param(address(252, domain_start=FFI), id="254-once-nfkc-normalized"),
    ],
)
def test_an_address_of_254_characters_once_normalized_is_kept_whole(db: None, email: str) -> None:
    response = register(email=email)

    assert response.status_code == 201, response.content
    user = User.objects.get()
    assert user.email == email.lower()
    assert EmailAddress.objects.get().email == email.lower()
    assert mail.outbox[0].to == [email.lower()]


def test_an_address_that_lower_casing_makes_invalid_is_refused(db: None) -> None:
    # allauth stores addresses lower-cased: this one would lose its confirmation mail.
    response = register(email=f"{DOTTED_I}nci@example.com")

    assert response.status_code == 400
    assert response.json() == {"email": ["Enter a valid email address."]}
    assert not User.objects.exists()


@pytest.mark.parametrize(
    "username",
    [
        pytest.param("u" * 151, id="151-characters"),
        pytest.param("\ufb00" * 76, id="152-once-nfkc-normalized"),
        pytest.param("\u00df" * 76, id="152-once-case-folded"),
    ],
)
def test_registering_a_username_longer_than_150_once_normalized_is_refused(
    db: None, username: str
) -> None:
    response = register(username=username)

    assert too_long(response, "username", 150)
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("username", "stored"),
    [("u" * 150, "u" * 150), ("\ufb00" * 75, "ff" * 75), ("\u00df" * 75, "\u00df" * 75)],
)
def test_a_username_of_150_characters_once_normalized_is_kept_whole(
    db: None, username: str, stored: str
) -> None:
    assert register(username=username).status_code == 201

    assert User.objects.get().username == stored


@pytest.mark.parametrize(
    ("field", "identifier", "limit"),
    [
        ("username", "u" * 151, 150),
        ("username", "\ufb00" * 76, 150),
        ("username", address(255), 254),
        ("username", address(253, domain_start=FFI), 254),
        ("email", address(255), 254),
        ("email", address(254, domain_start=DOTTED_I), 254),
    ],
)
def test_a_login_name_longer_than_any_account_can_have_is_refused(
    db: None, field: str, identifier: str, limit: int
) -> None:
    response = APIClient().post(LOGIN, {field: identifier, "password": PASSWORD}, format="json")

    assert too_long(response, field, limit)


@pytest.mark.parametrize("url", [RESET, RESEND])
@pytest.mark.parametrize(
    "email", [address(255), address(253, domain_start=FFI)], ids=["255", "255-once-normalized"]
)
def test_mail_requests_for_an_address_longer_than_254_are_refused(
    db: None, url: str, email: str
) -> None:
    response = APIClient().post(url, {"email": email}, format="json")

    assert too_long(response, "email", 254)
    assert mail.outbox == []


@pytest.fixture
def admin_client(user_factory: Callable[..., User]) -> Client:
    client = Client()
    client.force_login(user_factory("root", is_staff=True, is_superuser=True))
    return client


def test_the_admins_change_form_refuses_an_address_too_long_once_normalized(
    admin_client: Client, alice: User
) -> None:
    url = f"/admin/accounts/user/{alice.pk}/change/"
    data = {
        "username": "alice",
        "email": address(253, domain_start=FFI),
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    for inline in admin_client.get(url).context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data |= {management.add_prefix(name): value for name, value in management.initial.items()}

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "at most 254 characters" in " ".join(response.context["adminform"].form.errors["email"])
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"
