"""Every surface that checks a password: failures counted alike, successes free of any budget."""

import base64
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.authentication import BasicAuthentication
from rest_framework.test import APIClient
from rest_framework.views import APIView

from blogapi.accounts.models import User
from blogapi.accounts.tests.test_rate_limits import WRONG, assert_throttled, json_login
from conftest import PASSWORD, login, token_client

OTHER_IP = "198.51.100.7"
NEW_PASSWORDS = ("a brand new passphrase", "another new passphrase")


class Surface:
    """One way of presenting alice's password; `send` answers the response."""

    succeeded = 200
    failed = 400

    def __init__(self, alice: User) -> None:
        self.alice = alice
        self.password = PASSWORD

    def send(self, password: str) -> Any:
        raise NotImplementedError

    def succeed(self) -> None:
        response = self.send(self.password)
        assert response.status_code == self.succeeded, response.content[:500]

    def fail(self) -> Any:
        response = self.send(WRONG)
        assert response.status_code == self.failed, response.content[:500]
        return response


class JsonLogin(Surface):
    """dj-rest-auth's JSON login."""

    def send(self, password: str) -> Any:
        return json_login("alice", password)


class FormLogin(Surface):
    """A browser login form: 302 onwards when right, the form again when wrong."""

    url = ""
    succeeded, failed = 302, 200

    def send(self, password: str) -> Any:
        return Client().post(self.url, {"username": "alice", "password": password})


class BrowsableApiLogin(FormLogin):
    url = "/api-auth/login/"


class AdminLogin(FormLogin):
    url = "/admin/login/"


class PasswordChangeSurface(Surface):
    """A signed-in page that asks for the old password; each success sets the next password."""

    def change(self, old: str, new: str) -> Any:
        raise NotImplementedError

    def send(self, password: str) -> Any:
        new = NEW_PASSWORDS[0] if self.password != NEW_PASSWORDS[0] else NEW_PASSWORDS[1]
        response = self.change(password, new)
        if response.status_code == self.succeeded:
            self.password = new
        return response


class AdminOwnPassword(PasswordChangeSurface):
    """The admin's own "change password" page."""

    succeeded, failed = 302, 200

    def __init__(self, alice: User) -> None:
        super().__init__(alice)
        self.browser = Client()
        self.browser.force_login(alice)

    def change(self, old: str, new: str) -> Any:
        body = {"old_password": old, "new_password1": new, "new_password2": new}
        return self.browser.post("/admin/password_change/", body)


class ApiPasswordChange(PasswordChangeSurface):
    """dj-rest-auth's password change with `old_password`, by token."""

    def __init__(self, alice: User) -> None:
        super().__init__(alice)
        self.client = token_client(login(APIClient(), "alice"))

    def change(self, old: str, new: str) -> Any:
        body = {"old_password": old, "new_password1": new, "new_password2": new}
        return self.client.post("/api/v1/dj-rest-auth/password/change/", body, format="json")


class Basic(Surface):
    """HTTP Basic on an API request (AUTH_BASIC_ENABLED=true)."""

    failed = 401

    def send(self, password: str) -> Any:
        credentials = base64.b64encode(f"alice:{password}".encode()).decode()
        return APIClient().get("/api/v1/", HTTP_AUTHORIZATION=f"Basic {credentials}")


SURFACES = [JsonLogin, BrowsableApiLogin, AdminLogin, AdminOwnPassword, ApiPasswordChange, Basic]


@pytest.fixture
def basic_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """What AUTH_BASIC_ENABLED=true configures (test_authentication checks the setting)."""
    monkeypatch.setattr(
        APIView, "authentication_classes", [*APIView.authentication_classes, BasicAuthentication]
    )


@pytest.fixture(params=SURFACES, ids=lambda kind: kind.__name__)
def surface(
    request: pytest.FixtureRequest, user_factory: Callable[..., User], basic_enabled: None
) -> Surface:
    """alice (staff, for the admin pages) and one surface that checks her password."""
    alice = user_factory("alice", is_staff=True)
    kind: type[Surface] = request.param
    return kind(alice)


def test_successes_cost_no_budget_and_failures_still_lock(
    surface: Surface, rates: Callable[..., None]
) -> None:
    rates(login_failures="3/300", login_ip="3/60")
    for _ in range(10):
        surface.succeed()
    for _ in range(3):
        surface.fail()

    assert_throttled(surface.send(surface.password))


def test_failures_lock_the_account_everywhere_the_right_password_too(surface: Surface) -> None:
    for _ in range(5):
        surface.fail()

    assert_throttled(surface.send(surface.password))
    # The account's counter, not the IP's: a JSON login from elsewhere is refused as well.
    assert_throttled(json_login("alice", surface.password, REMOTE_ADDR=OTHER_IP))


def test_failures_spend_the_ip_budget_across_accounts(
    surface: Surface, user_factory: Callable[..., User], rates: Callable[..., None]
) -> None:
    user_factory("bob")
    rates(login_ip="3/60")
    for _ in range(3):
        surface.fail()

    assert_throttled(json_login("bob", PASSWORD), window=60)
    assert json_login("bob", PASSWORD, REMOTE_ADDR=OTHER_IP).status_code == 200


@pytest.mark.usefixtures("basic_enabled")
def test_an_honest_basic_client_is_never_refused(alice: User) -> None:
    basic = Basic(alice)
    # More than both default limits allow (login_ip 30/60, login_failures 5/300), twice over.
    for _ in range(61):
        basic.succeed()


def test_a_wrong_old_password_on_the_admin_page_answers_the_form_again(
    user_factory: Callable[..., User],
) -> None:
    page = AdminOwnPassword(user_factory("alice", is_staff=True))

    response = page.fail()

    assert b"Your old password was entered incorrectly" in response.content
    assert page.alice.check_password(PASSWORD)


def _without_form_values(html: bytes) -> bytes:
    """The page without its per-render values (the masked CSRF token)."""
    return re.sub(rb'value="[^"]*"', b'value=""', html)


def test_the_admin_password_page_is_the_stock_admin_page(
    user_factory: Callable[..., User], settings: Any
) -> None:
    browser = Client()
    browser.force_login(user_factory("alice", is_staff=True))
    ours = browser.get("/admin/password_change/")
    settings.ROOT_URLCONF = "blogapi.accounts.tests.urls_stock_admin"

    stock = browser.get("/admin/password_change/")

    assert ours.status_code == stock.status_code == 200
    assert _without_form_values(ours.content) == _without_form_values(stock.content)


def test_the_admin_password_page_sends_non_staff_to_the_admin_login(
    user_factory: Callable[..., User],
) -> None:
    browser = Client()
    browser.force_login(user_factory("bob"))

    response = browser.get("/admin/password_change/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/password_change/"
