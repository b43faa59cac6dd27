"""Every sign-in, by any path, kills the reset links mailed before it, and revokes nothing.

Django's reset tokens embed the user's last_login; every sign-in updates it (Django's
update_last_login on user_logged_in), whatever the path and the credential.
"""

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient
from rest_framework.views import APIView

from blogapi.accounts.authentication import BasicCredentialsAuthentication
from blogapi.accounts.models import User
from conftest import PASSWORD, login, mailed_link, token_client

LOGIN = "/api/v1/dj-rest-auth/login/"
REGISTER = "/api/v1/dj-rest-auth/registration/"
RESET = "/api/v1/dj-rest-auth/password/reset/"
RESET_CONFIRM = "/api/v1/dj-rest-auth/password/reset/confirm/"
RESET_LINK = r"/password/reset/confirm/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/"
NEW_PASSWORD = "a brand new passphrase"
START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _basic_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """What AUTH_BASIC_ENABLED=true configures (test_authentication checks the setting)."""
    monkeypatch.setattr(
        APIView,
        "authentication_classes",
        [*APIView.authentication_classes, BasicCredentialsAuthentication],
    )


def json_login(user: User) -> None:
    login(APIClient(), user.username)


def form_login(user: User) -> None:
    """dj-rest-auth's login from an HTML form (the browsable API): a token and a session."""
    response = APIClient().post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200, response.content


def browsable_api_login(user: User) -> None:
    response = Client().post("/api-auth/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302


def admin_login(user: User) -> None:
    response = Client().post(
        "/admin/login/", {"username": user.username, "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def basic_request(user: User) -> None:
    credentials = base64.b64encode(f"{user.username}:{PASSWORD}".encode()).decode()
    response = APIClient().get("/api/v1/", HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert response.status_code == 200


SIGN_INS = [
    pytest.param(json_login, id="json-login"),
    pytest.param(form_login, id="form-login"),
    pytest.param(browsable_api_login, id="browsable-api-login"),
    pytest.param(admin_login, id="admin-login"),
    pytest.param(basic_request, id="basic-request"),
]


def reset_link_mailed() -> dict[str, str]:
    response = APIClient().post(RESET, {"email": "alice@example.com"}, format="json")
    assert response.status_code == 200
    link = mailed_link(RESET_LINK)
    return {"uid": link.group("uid"), "token": link.group("token")}


def reset_confirmed(link: dict[str, str]) -> Any:
    body = {**link, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    return APIClient().post(RESET_CONFIRM, body, format="json")


@pytest.fixture
def staff_alice(user_factory: Callable[..., User]) -> User:
    """alice, staff so that the admin's login accepts her too."""
    return user_factory("alice", is_staff=True)


@pytest.mark.parametrize("sign_in", SIGN_INS)
def test_a_sign_in_refuses_the_reset_link_mailed_before_it(
    staff_alice: User, sign_in: Callable[[User], None]
) -> None:
    link = reset_link_mailed()

    sign_in(staff_alice)

    response = reset_confirmed(link)
    assert response.status_code == 400
    assert "token" in response.json()
    staff_alice.refresh_from_db()
    assert staff_alice.check_password(PASSWORD)


@pytest.mark.parametrize("sign_in", SIGN_INS)
def test_a_sign_in_refuses_the_link_also_after_earlier_sign_ins(
    staff_alice: User, sign_in: Callable[[User], None], time_machine: Any
) -> None:
    time_machine.move_to(START, tick=False)
    json_login(staff_alice)
    time_machine.move_to(START + timedelta(minutes=1), tick=False)
    link = reset_link_mailed()
    time_machine.move_to(START + timedelta(minutes=2), tick=False)

    sign_in(staff_alice)

    assert reset_confirmed(link).status_code == 400
    staff_alice.refresh_from_db()
    assert staff_alice.last_login == START + timedelta(minutes=2)


@pytest.mark.parametrize("sign_in", SIGN_INS)
def test_a_sign_in_revokes_no_credential_and_mails_no_notice(
    staff_alice: User, sign_in: Callable[[User], None], time_machine: Any
) -> None:
    """Saving last_login is no new password and no deactivation (User.save()'s invariants)."""
    time_machine.move_to(START, tick=False)
    key = login(APIClient(), "alice")
    browser = Client()
    browser.force_login(staff_alice)
    time_machine.move_to(START + timedelta(minutes=1), tick=False)

    sign_in(staff_alice)

    assert token_client(key).get("/api/v1/").status_code == 200
    assert browser.get("/api/v1/").status_code == 200
    assert mail.outbox == []


@pytest.mark.parametrize("form", [False, True], ids=["json", "html-form"])
def test_a_registration_that_signs_in_records_the_sign_in(
    api_client: APIClient, db: None, time_machine: Any, form: bool
) -> None:
    time_machine.move_to(START, tick=False)
    body = {
        "username": "carol",
        "email": "carol@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }

    # An HTML form (the browsable API) also signs the browser in; JSON gets only the token.
    response = api_client.post(REGISTER, body, format="multipart" if form else "json")

    assert response.status_code == 201
    assert User.objects.get(username="carol").last_login == START


def test_using_a_token_is_not_a_sign_in(alice: User, time_machine: Any) -> None:
    time_machine.move_to(START, tick=False)
    key = login(APIClient(), "alice")
    time_machine.move_to(START + timedelta(minutes=1), tick=False)
    link = reset_link_mailed()
    time_machine.move_to(START + timedelta(minutes=2), tick=False)

    assert token_client(key).get("/api/v1/").status_code == 200

    assert reset_confirmed(link).status_code == 200
