"""The credential registry: the one credential in use, revoke all but one, and the flows' errors."""

from typing import Any

import pytest
import yaml
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from blogapi.accounts.models import DeviceToken, User, token_digest
from blogapi.accounts.services.credentials import (
    CREDENTIAL_KINDS,
    CredentialRef,
    credentials_revoke_all,
)
from blogapi.accounts.services.password import (
    BAD_LINK,
    BAD_LINK_FIELD,
    password_change,
    password_reset_confirm,
)
from conftest import PASSWORD, login, token_client

CHANGE = "/api/v1/dj-rest-auth/password/change/"
TOKENS = "/api/v1/dj-rest-auth/tokens/"
ME = "/api/v1/dj-rest-auth/user/"
NEW_PASSWORD = "a brand new passphrase"


def browser_login(user: User) -> Client:
    browser = Client()
    response = browser.post("/api-auth/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def change_password(client: APIClient, **headers: Any) -> Any:
    body = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    return client.post(CHANGE, body, format="json", **headers)


def token_with_session(key: str, browser: Client) -> APIClient:
    """A client sending a token *and* a signed-in browser session's cookies."""
    client = token_client(key)
    client.cookies = browser.cookies
    return client


def test_a_token_request_with_a_session_cookie_uses_the_token(alice: User) -> None:
    client = token_with_session(login(APIClient(), "alice"), browser_login(alice))

    listed = client.get(TOKENS).json()

    assert sorted((c["kind"], c["current"]) for c in listed) == [
        ("session", False),
        ("token", True),
    ]


def test_a_token_password_change_keeps_only_that_token(alice: User) -> None:
    browser = browser_login(alice)
    key = login(APIClient(), "alice")

    response = change_password(
        token_with_session(key, browser), HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value
    )

    assert response.status_code == 200
    assert token_client(key).get(ME).status_code == 200
    assert browser.get(ME).status_code == 401


def test_a_token_password_change_opens_no_session(alice_client: APIClient) -> None:
    response = change_password(alice_client)

    assert response.status_code == 200
    assert "sessionid" not in response.cookies


@pytest.mark.parametrize("kept", ["token", "session", None])
def test_revoke_all_keeps_exactly_the_credential_named(alice: User, kept: str | None) -> None:
    keys = [login(APIClient(), "alice") for _ in range(2)]
    browsers = [browser_login(alice) for _ in range(2)]
    refs = {
        "token": CredentialRef(
            kind="token", key=str(DeviceToken.objects.get(digest=token_digest(keys[0])).pk)
        ),
        "session": CredentialRef(kind="session", key=browsers[0].cookies["sessionid"].value),
    }

    credentials_revoke_all(user=alice, keep=refs[kept] if kept else None)

    alive = [token_client(k).get(ME).status_code == 200 for k in keys]
    alive += [b.get(ME).status_code == 200 for b in browsers]
    assert alive == [kept == "token", False, kept == "session", False]


def test_the_listed_kinds_are_the_registrys(db: None) -> None:
    schema = yaml.safe_load(Client().get("/api/schema/").content)

    kinds = schema["components"]["schemas"]["KindEnum"]["enum"]

    assert kinds == list(CREDENTIAL_KINDS) == ["token", "session", "jwt"]


def test_flows_raise_djangos_validation_error_by_field(alice: User) -> None:
    request = RequestFactory().post(CHANGE)
    request.user = alice

    with pytest.raises(ValidationError) as wrong_old:
        password_change(
            request=request,
            user=alice,
            old_password="not the password",
            new_password1=NEW_PASSWORD,
            new_password2=NEW_PASSWORD,
        )
    with pytest.raises(ValidationError) as bad_link:
        password_reset_confirm(
            request=request, uid="zz", token="x", new_password1="a", new_password2="a"
        )

    assert list(wrong_old.value.message_dict) == ["old_password"]
    assert bad_link.value.message_dict == {BAD_LINK_FIELD: [BAD_LINK]}
