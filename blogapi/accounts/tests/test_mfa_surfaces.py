"""No surface signs in on a password alone once a user has a second factor."""

from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client

from blogapi.accounts.forms import SECOND_FACTOR_REQUIRED
from blogapi.accounts.models import User
from blogapi.accounts.tests.mfa import Clock, Enrolled, enroll
from blogapi.accounts.tests.test_authentication import basic_enabled  # noqa: F401
from blogapi.accounts.tests.test_sign_in_surfaces import Basic, _without_form_values
from conftest import PASSWORD


@pytest.fixture
def staff_enrolled(clock: Clock, user_factory: type) -> Enrolled:
    alice = user_factory("alice", is_staff=True, is_superuser=True)
    return enroll(clock, alice)


@pytest.mark.usefixtures("basic_enabled")
def test_basic_refuses_a_user_with_a_second_factor(enrolled: Enrolled) -> None:
    response = Basic(enrolled.user).send(PASSWORD)

    assert response.status_code == 401


@pytest.mark.usefixtures("basic_enabled")
def test_basic_still_signs_in_a_user_without_one(alice: User) -> None:
    assert Basic(alice).send(PASSWORD).status_code == 200


@pytest.mark.parametrize("url", ["/api-auth/login/", "/admin/login/"])
def test_html_logins_do_not_sign_in_on_a_password_alone(staff_enrolled: Enrolled, url: str) -> None:
    browser = Client()

    response = browser.post(url, {"username": "alice", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == url + "code/"
    assert "_auth_user_id" not in browser.session


def test_the_stock_admin_login_view_refuses_a_password_alone(
    staff_enrolled: Enrolled, settings: Any
) -> None:
    # AdminSite's own view has no code step: reached through another URLconf, it refuses.
    settings.ROOT_URLCONF = "blogapi.accounts.tests.urls_stock_admin"
    browser = Client()

    response = browser.post("/admin/login/", {"username": "alice", "password": PASSWORD})

    assert response.status_code == 200
    assert SECOND_FACTOR_REQUIRED in response.content.decode()
    assert "_auth_user_id" not in browser.session


def test_our_admin_login_page_is_the_stock_admin_page(db: None, settings: Any) -> None:
    browser = Client()
    ours = browser.get("/admin/login/?next=/admin/auth/")
    settings.ROOT_URLCONF = "blogapi.accounts.tests.urls_stock_admin"

    stock = browser.get("/admin/login/?next=/admin/auth/")

    assert ours.status_code == stock.status_code == 200
    assert _without_form_values(ours.content) == _without_form_values(stock.content)


@pytest.mark.parametrize("url", ["/api-auth/login/", "/admin/login/"])
def test_html_logins_still_sign_in_a_user_without_one(user_factory: type, url: str) -> None:
    user_factory("alice", is_staff=True, is_superuser=True)

    assert Client().post(url, {"username": "alice", "password": PASSWORD}).status_code == 302


def test_the_admin_lists_factors_without_their_secrets(
    enrolled: Enrolled, user_factory: type
) -> None:
    staff = Client()
    staff.force_login(user_factory("root", is_staff=True, is_superuser=True))
    totp_row = Authenticator.objects.get(user=enrolled.user, type="totp")

    listing = staff.get("/admin/mfa/authenticator/")
    page = staff.get(f"/admin/mfa/authenticator/{totp_row.pk}/change/")

    assert listing.status_code == 200
    assert page.status_code == 200
    assert "alice" in listing.content.decode()
    assert enrolled.secret not in page.content.decode()
    assert enrolled.secret not in listing.content.decode()
