"""Staff remove a user's factors in the admin: one flow, logged, mailed, credentials end."""

from collections.abc import Callable

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from blogapi.accounts.tests.mfa import Enrolled
from blogapi.accounts.tests.test_mfa import STATUS
from conftest import login, token_client

USERS = "/admin/accounts/user/"


def admin_browser(staff: User) -> Client:
    """A staff browser with CSRF enforced, holding the admin's CSRF cookie."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    browser.get(USERS)
    return browser


def remove_mfa(browser: Client, *users: User) -> int:
    response = browser.post(
        USERS,
        {
            "action": "remove_mfa",
            "_selected_action": [u.pk for u in users],
            "csrfmiddlewaretoken": browser.cookies["csrftoken"].value,
        },
    )
    return response.status_code


def test_staff_remove_a_users_factors_ending_credentials_logged_and_mailed(
    enrolled: Enrolled,
    bob: User,
    user_factory: Callable[..., User],
    caplog: pytest.LogCaptureFixture,
) -> None:
    root = user_factory("root", is_staff=True, is_superuser=True)
    bobs = token_client(login(APIClient(), "bob"))
    browser = admin_browser(root)
    mail.outbox.clear()
    caplog.set_level("INFO", logger="blogapi.auth")

    assert remove_mfa(browser, enrolled.user) == 302

    assert not Authenticator.objects.filter(user=enrolled.user).exists()
    assert token_client(enrolled.key).get(STATUS).status_code == 401
    assert bobs.get(STATUS).status_code == 200
    assert f"mfa.removed_by_staff user_id={enrolled.user.pk} staff_id={root.pk}" in caplog.text
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert enrolled.secret not in mail.outbox[0].body
    # alice signs in with her password alone again (no code step).
    assert (
        "key"
        in APIClient()
        .post(
            "/api/v1/dj-rest-auth/login/",
            {"username": "alice", "password": "correct horse battery staple"},
            format="json",
        )
        .json()
    )


def test_a_user_without_factors_is_left_alone(
    alice: User, user_factory: Callable[..., User]
) -> None:
    alices = token_client(login(APIClient(), "alice"))
    browser = admin_browser(user_factory("root", is_staff=True, is_superuser=True))
    mail.outbox.clear()

    assert remove_mfa(browser, alice) == 302

    assert alices.get(STATUS).status_code == 200
    assert mail.outbox == []


def test_a_non_staff_user_cannot_remove_factors(enrolled: Enrolled, bob: User) -> None:
    browser = Client()  # no CSRF check even: the admin itself must refuse bob
    browser.force_login(bob)

    response = browser.post(USERS, {"action": "remove_mfa", "_selected_action": [enrolled.user.pk]})

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    assert Authenticator.objects.filter(user=enrolled.user).count() == 2
    assert token_client(enrolled.key).get(STATUS).status_code == 200


def test_view_only_staff_cannot_remove_factors(
    enrolled: Enrolled, user_factory: Callable[..., User]
) -> None:
    viewer = user_factory("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_user"))
    browser = admin_browser(viewer)

    remove_mfa(browser, enrolled.user)

    assert Authenticator.objects.filter(user=enrolled.user).count() == 2
    assert token_client(enrolled.key).get(STATUS).status_code == 200


def test_factor_rows_cannot_be_deleted_around_the_flow(
    enrolled: Enrolled, user_factory: Callable[..., User]
) -> None:
    browser = admin_browser(user_factory("root", is_staff=True, is_superuser=True))
    factor = Authenticator.objects.filter(user=enrolled.user).first()
    assert factor is not None

    page = browser.get(f"/admin/mfa/authenticator/{factor.pk}/delete/")

    assert page.status_code == 403
    assert (
        enrolled.secret
        not in browser.get(f"/admin/mfa/authenticator/{factor.pk}/change/").content.decode()
    )
    assert Authenticator.objects.filter(user=enrolled.user).count() == 2


def test_view_only_staff_cannot_revoke_a_users_credentials(
    enrolled: Enrolled, user_factory: Callable[..., User]
) -> None:
    viewer = user_factory("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_user"))
    browser = admin_browser(viewer)

    browser.post(
        USERS,
        {
            "action": "revoke_all_credentials",
            "_selected_action": [enrolled.user.pk],
            "csrfmiddlewaretoken": browser.cookies["csrftoken"].value,
        },
    )

    assert token_client(enrolled.key).get(STATUS).status_code == 200
