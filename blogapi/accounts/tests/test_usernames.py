"""Usernames: one account per spelling (NFKC, case-insensitive), no mixed-script look-alikes,
the same rules on every surface that creates or renames a user."""

from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.test import Client
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from conftest import PASSWORD, fullwidth

REGISTER = "/api/v1/dj-rest-auth/registration/"
TAKEN = "A user with that username already exists."
# Spellings of existing names that NFKC and case folding make the same name.
TWINS = [
    ("alice", "ALICE"),
    ("alice", "Alice"),
    ("alice", fullwidth("alice")),
    ("alice", fullwidth("ALICE")),
    ("alice", "al\u0131ce"),
    ("straße", "STRASSE"),
    ("strasse", "straße"),
    ("finn", "\ufb01nn"),
    ("kim", "\u212aim"),
]
CYRILLIC_A = "\u0430"


def register(username: str, email: str = "new@example.com") -> Any:
    return APIClient().post(
        REGISTER,
        {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD},
        format="json",
    )


@pytest.mark.parametrize(("existing", "twin"), TWINS)
def test_registering_another_spelling_of_a_taken_name_is_refused(
    user_factory: Callable[..., User], existing: str, twin: str
) -> None:
    user_factory(existing, email="first@example.com")

    response = register(twin)

    assert response.status_code == 400, response.content
    assert response.json() == {"username": [TAKEN]}
    assert User.objects.count() == 1


def test_a_username_is_stored_nfkc_normalized(db: None) -> None:
    assert register(f"{fullwidth('carol')}\ufb01").status_code == 201

    assert User.objects.get().username == "carolfi"


def test_a_mixed_script_look_alike_of_an_existing_name_is_refused(alice: User) -> None:
    response = register(f"{CYRILLIC_A}lice")

    assert response.status_code == 400
    [message] = response.json()["username"]
    assert "looks like the existing username “alice”" in message
    assert "Cyrillic and Latin" in message
    assert User.objects.count() == 1


def test_a_look_alike_in_the_other_alphabet_is_refused_too(
    user_factory: Callable[..., User],
) -> None:
    # The Cyrillic name already exists; a Cyrillic name with one Latin letter imitates it.
    user_factory("\u0430\u0440\u0435", email="ape@example.com")  # "ape", all three letters Cyrillic

    response = register("\u0430p\u0435")  # the same with a Latin p

    assert response.status_code == 400
    assert "“\u0430\u0440\u0435”" in response.json()["username"][0]


@pytest.mark.parametrize(
    "name",
    [
        f"{CYRILLIC_A}lice",  # mixes scripts, but imitates no existing name
        "山田タロウ",  # Han and Katakana, as Japanese names are written
        "\u0430\u043b\u0438\u0441\u0430",  # "алиса", all Cyrillic
        "alice2",
    ],
)
def test_names_that_imitate_no_existing_name_register(
    user_factory: Callable[..., User], name: str
) -> None:
    user_factory("bob")

    assert register(name).status_code == 201, register(name).content


@pytest.mark.parametrize(
    "write",
    [
        lambda: User.objects.create_user(fullwidth("ALICE"), "other@example.com", PASSWORD),
        lambda: User.objects.bulk_create([User(username="Alice", password="!")]),
    ],
    ids=["save", "bulk_create"],
)
def test_the_database_refuses_a_second_spelling_whatever_the_code_path(
    alice: User, write: Callable[[], object]
) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        write()


@pytest.fixture
def admin_client(user_factory: Callable[..., User]) -> Client:
    client = Client()
    client.force_login(user_factory("root", is_staff=True, is_superuser=True))
    return client


def admin_post(client: Client, url: str, data: dict[str, str]) -> Any:
    """Post an admin form as its page would: the inlines' management forms included."""
    page = client.get(url)
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data |= {management.add_prefix(name): value for name, value in management.initial.items()}
    return client.post(url, data)


def admin_add_user(client: Client, username: str) -> Any:
    return admin_post(
        client,
        "/admin/accounts/user/add/",
        {
            "username": username,
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )


@pytest.mark.parametrize(
    ("name", "error"),
    [
        (fullwidth("ALICE"), TAKEN),
        (f"{CYRILLIC_A}lice", "looks like the existing username “alice”"),
    ],
)
def test_the_admins_user_creation_form_applies_the_same_rules(
    admin_client: Client, alice: User, name: str, error: str
) -> None:
    response = admin_add_user(admin_client, name)

    assert response.status_code == 200  # the form again, with the error
    assert error in " ".join(response.context["adminform"].form.errors["username"])
    assert not User.objects.filter(username=name).exists()
    assert admin_add_user(admin_client, "dave").status_code == 302


def admin_rename(client: Client, user: User, username: str) -> Any:
    return admin_post(
        client,
        f"/admin/accounts/user/{user.pk}/change/",
        {
            "username": username,
            "email": user.email,
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )


def test_the_admins_change_form_refuses_another_users_spelling(
    admin_client: Client, alice: User, bob: User
) -> None:
    response = admin_rename(admin_client, bob, f"{fullwidth('A')}lice")

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["username"] == [TAKEN]
    bob.refresh_from_db()
    assert bob.username == "bob"


def test_the_admin_may_change_the_case_of_a_users_own_name(
    admin_client: Client, alice: User
) -> None:
    assert admin_rename(admin_client, alice, "Alice").status_code == 302

    alice.refresh_from_db()
    assert alice.username == "Alice"
    assert alice.username_canonical == "alice"


@pytest.mark.parametrize(
    ("name", "error"),
    [
        (fullwidth("ALICE"), "That username is already taken."),
        (f"{CYRILLIC_A}lice", "looks like the existing username “alice”"),
        ("\ufb00" * 76, "at most 150 characters once normalized"),
    ],
)
def test_createsuperuser_applies_the_same_rules(
    alice: User, monkeypatch: pytest.MonkeyPatch, name: str, error: str
) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)

    with pytest.raises(CommandError, match=error):
        call_command(
            "createsuperuser",
            interactive=False,
            username=name,
            email="root@example.com",
            stdout=StringIO(),
        )
    assert User.objects.count() == 1


def test_createsuperuser_creates_a_normalized_name(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)

    call_command(
        "createsuperuser",
        interactive=False,
        username=fullwidth("root"),
        email="root@example.com",
        stdout=StringIO(),
    )

    assert User.objects.get().username == "root"


ME = "/api/v1/dj-rest-auth/user/"


def test_a_put_of_ones_own_details_keeps_or_recases_the_name(alice_client: APIClient) -> None:
    kept = alice_client.put(ME, {"username": "alice", "first_name": "Alice"}, format="json")
    assert kept.status_code == 200, kept.content

    recased = alice_client.patch(ME, {"username": "Alice"}, format="json")

    assert recased.status_code == 200, recased.content
    assert User.objects.get().username == "Alice"


@pytest.mark.parametrize(
    ("name", "error"),
    [
        (fullwidth("ALICE"), TAKEN),
        (f"{CYRILLIC_A}lice", "looks like the existing username “alice”"),
        ("\ufb00" * 76, "at most 150 characters once normalized"),
    ],
)
def test_renaming_oneself_applies_the_same_rules(
    alice: User, bob_client: APIClient, name: str, error: str
) -> None:
    response = bob_client.patch(ME, {"username": name}, format="json")

    assert response.status_code == 400
    assert error in response.json()["username"][0]
    assert User.objects.filter(username="bob").exists()


# Found by contract fuzzing: a look-alike check or a taken-name lookup sent the NUL to PostgreSQL.
NUL_RENAMES = [
    '{"username": "ab\\u0000c"}',
    '{"username": "\\u0097\\u00f9\\u00c3\\u00aa\\u0092\\u000b,\\ud80d\\udd3e'
    '\\u00eb-\\u00a5\\u0000", "last_name": "N\\u0000"}',
    '{"username": "\\u0430lice\\u0000"}',
]


@pytest.mark.parametrize("body", NUL_RENAMES)
def test_a_rename_with_a_nul_byte_is_a_400(alice: User, body: str) -> None:
    client = APIClient()
    client.force_authenticate(alice)

    response = client.patch("/api/v1/dj-rest-auth/user/", body, content_type="application/json")

    assert response.status_code == 400, response.content
    assert "username" in response.json()


@pytest.mark.parametrize("name", ["ab\x00c", "\u0430lice\x00"])
def test_a_registration_with_a_nul_byte_is_a_400(alice: User, name: str) -> None:
    response = APIClient().post(
        "/api/v1/dj-rest-auth/registration/",
        {
            "username": name,
            "email": "nul@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
        format="json",
    )

    assert response.status_code == 400, response.content
