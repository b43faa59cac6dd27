"""Revocation as an invariant: every path that changes a password or deactivates a user revokes."""

import re
from collections.abc import Callable
from typing import Any

import pytest
from allauth.usersessions.models import UserSession
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.management import call_command
from django.test import Client

from blogapi.accounts.models import DeviceToken, User
from blogapi.accounts.tests.test_device_tokens import ME, browser_login, login_as, works
from conftest import PASSWORD

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def staff(user_factory: Callable[..., User]) -> User:
    return user_factory("root", is_staff=True, is_superuser=True)


def admin_browser(user: User) -> Client:
    """A staff browser signed in through the admin's own login form (CSRF enforced)."""
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/admin/login/")
    response = browser.post(
        "/admin/login/?next=/admin/",
        {
            "username": user.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": csrf_from(page.content),
        },
    )
    assert response.status_code == 302, response.content
    return browser


def csrf_from(html: bytes) -> str:
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1).decode()


def test_admin_own_password_page_revokes_every_other_credential(staff: User) -> None:
    keys = [login_as("root"), login_as("root")]
    other_browser = browser_login(staff)
    browser = admin_browser(staff)
    page = browser.get("/admin/password_change/")

    response = browser.post(
        "/admin/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
            "csrfmiddlewaretoken": csrf_from(page.content),
        },
    )

    assert response.status_code == 302, response.content
    assert not any(works(key) for key in keys)
    assert other_browser.get(ME).status_code in (401, 403)
    # Django keeps the browser that made the change signed in, and it stays listed.
    assert browser.get("/admin/").status_code == 200
    assert list(UserSession.objects.filter(user=staff).values_list("session_key", flat=True)) == [
        browser.cookies["sessionid"].value
    ]


def test_admin_page_changing_another_users_password_revokes_all_theirs(
    alice: User, staff: User
) -> None:
    key = login_as("alice")
    alices_browser = browser_login(alice)
    staff_key = login_as("root")
    browser = admin_browser(staff)
    url = f"/admin/accounts/user/{alice.pk}/password/"
    page = browser.get(url)

    response = browser.post(
        url,
        {
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "usable_password": "true",
            "csrfmiddlewaretoken": csrf_from(page.content),
        },
    )

    assert response.status_code == 302, response.content
    assert not works(key)
    assert alices_browser.get(ME).status_code in (401, 403)
    assert not UserSession.objects.filter(user=alice).exists()
    assert works(staff_key)  # the staff member's own credentials are not theirs to lose


def test_changepassword_command_revokes_every_credential(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = login_as("alice")
    browser = browser_login(alice)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)

    call_command("changepassword", "alice", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert not works(key)
    assert browser.get(ME).status_code in (401, 403)
    assert not Session.objects.exists()


def test_set_password_and_save_anywhere_revokes_every_credential(alice: User) -> None:
    keys = [login_as("alice"), login_as("alice")]
    browser = browser_login(alice)

    user = User.objects.get(pk=alice.pk)
    user.set_password(NEW_PASSWORD)
    user.save()

    assert not any(works(key) for key in keys)
    assert browser.get(ME).status_code in (401, 403)
    assert not DeviceToken.objects.exists()
    assert not UserSession.objects.exists()


def test_a_new_hash_assigned_directly_revokes_too(alice: User) -> None:
    key = login_as("alice")

    user = User.objects.get(pk=alice.pk)
    user.password = make_password(NEW_PASSWORD)
    user.save(update_fields=["password"])

    assert not works(key)


def test_a_password_change_mails_a_notice_whatever_the_path(alice: User) -> None:
    mail.outbox.clear()
    user = User.objects.get(pk=alice.pk)
    user.set_password(NEW_PASSWORD)
    user.save()

    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert "password" in str(mail.outbox[0].subject).lower()
    assert NEW_PASSWORD not in str(mail.outbox[0].body)


def test_saving_a_user_without_a_new_password_revokes_nothing(alice: User) -> None:
    key = login_as("alice")
    browser = browser_login(alice)

    user = User.objects.get(pk=alice.pk)
    user.first_name = "Alice"
    user.save()
    user.set_password(PASSWORD)  # set, but not saved
    user.save(update_fields=["first_name"])

    assert works(key)
    assert browser.get(ME).status_code == 200


def test_a_hash_upgraded_at_login_is_the_same_password_and_revokes_nothing(
    alice: User, settings: Any
) -> None:
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    User.objects.filter(pk=alice.pk).update(
        password=make_password(PASSWORD, hasher="pbkdf2_sha256")
    )
    key = login_as("alice")

    login_as("alice")  # the login upgrades the stored hash to MD5

    assert User.objects.get(pk=alice.pk).password.startswith("md5$")
    assert works(key)


@pytest.mark.parametrize("how", ["save", "admin"])
def test_deactivating_then_reactivating_brings_no_credential_back(
    alice: User, staff: User, client: Client, how: str
) -> None:
    keys = [login_as("alice"), login_as("alice")]
    browser = browser_login(alice)

    set_active(alice, staff, client, active=False, how=how)
    assert not any(works(key) for key in keys)
    set_active(alice, staff, client, active=True, how=how)

    assert not any(works(key) for key in keys)
    assert browser.get(ME).status_code in (401, 403)
    assert not DeviceToken.objects.filter(user=alice).exists()
    assert not UserSession.objects.filter(user=alice).exists()
    assert works(login_as("alice"))  # signing in again works


def set_active(user: User, staff: User, client: Client, *, active: bool, how: str) -> None:
    if how == "save":
        fresh = User.objects.get(pk=user.pk)
        fresh.is_active = active
        fresh.save()
        return
    client.force_login(staff)
    url = f"/admin/accounts/user/{user.pk}/change/"
    form = {
        "username": user.username,
        "email": user.email,
        "date_joined_0": "2026-01-01",
        "date_joined_1": "12:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "12:00:00",
        **({"is_active": "on"} if active else {}),
        **inline_management_forms(client.get(url).content.decode()),
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content
    assert User.objects.get(pk=user.pk).is_active is active


def inline_management_forms(html: str) -> dict[str, str]:
    """The admin inlines' management form fields (TOTAL_FORMS etc.) with their values, no rows."""
    fields = dict(
        re.findall(
            r'name="([^"]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"[^>]*value="(\d+)"', html
        )
    )
    return {
        name: ("0" if name.endswith(("TOTAL_FORMS", "INITIAL_FORMS")) else value)
        for name, value in fields.items()
    }


def test_deleting_a_user_ends_their_browser_sessions_too(alice: User) -> None:
    browser = browser_login(alice)
    key = login_as("alice")

    User.objects.get(pk=alice.pk).delete()

    assert not Session.objects.exists()
    assert browser.get(ME).status_code in (401, 403)
    assert not works(key)
