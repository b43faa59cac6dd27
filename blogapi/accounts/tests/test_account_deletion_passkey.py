"""Account deletion by a user whose second factor is a passkey: the password and an assertion
for the reauthentication challenge of the credential in use, under the login limits."""

from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from blogapi.accounts.models import AccountDeletion, User
from blogapi.accounts.services.webauthn import NO_CHALLENGE
from blogapi.accounts.tests.mfa import Clock, Enrolled
from blogapi.accounts.tests.webauthn import REAUTH_BEGIN, SoftAuthenticator, register_passkey
from conftest import PASSWORD, login, token_client

DELETE = "/api/v1/dj-rest-auth/delete/"
ME = "/api/v1/dj-rest-auth/user/"


@dataclass
class PasskeyOnly:
    """Alice whose only factor is a passkey, and the client she registered it with."""

    user: User
    authenticator: SoftAuthenticator
    client: APIClient


@pytest.fixture
def passkey_only(alice: User) -> PasskeyOnly:
    client = token_client(login(APIClient(), "alice"))
    authenticator = SoftAuthenticator()
    register_passkey(client, authenticator, passwordless=False)
    return PasskeyOnly(alice, authenticator, client)


def options(client: APIClient) -> dict[str, Any]:
    response = client.post(REAUTH_BEGIN)
    assert response.status_code == 200, response.content
    return dict(response.json()["request_options"])


def delete_account(client: APIClient, **body: Any) -> Any:
    return client.post(DELETE, {"password": PASSWORD, **body}, format="json")


def test_a_passkey_assertion_is_the_second_factor_of_a_deletion(passkey_only: PasskeyOnly) -> None:
    client = passkey_only.client
    credential = passkey_only.authenticator.get(options(client))

    response = delete_account(client, credential=credential)

    assert response.status_code == 202, response.content
    assert AccountDeletion.objects.filter(user=passkey_only.user).exists()
    assert client.get(ME).status_code == 401


def test_a_passkey_user_without_a_second_factor_is_told_what_to_send(
    passkey_only: PasskeyOnly,
) -> None:
    response = delete_account(passkey_only.client)

    assert response.status_code == 400
    assert "`credential`" in response.json()["code"][0]
    assert not AccountDeletion.objects.exists()


def test_a_code_and_a_credential_together_are_refused(passkey_only: PasskeyOnly) -> None:
    credential = passkey_only.authenticator.get(options(passkey_only.client))

    response = delete_account(passkey_only.client, code="123456", credential=credential)

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Send either `code` or `credential`, not both."]
    }
    assert not AccountDeletion.objects.exists()


def test_an_assertion_without_options_asked_is_refused(passkey_only: PasskeyOnly) -> None:
    stale = {"publicKey": {"rpId": "localhost", "challenge": "AAAAAAAAAAAAAAAAAAAAAA"}}
    credential = passkey_only.authenticator.get(stale)

    response = delete_account(passkey_only.client, credential=credential)

    assert response.status_code == 400
    assert response.json() == {"credential": [NO_CHALLENGE]}
    assert not AccountDeletion.objects.exists()


def test_the_challenge_is_bound_to_the_credential_that_asked_for_it(
    passkey_only: PasskeyOnly,
) -> None:
    # A second sign-in of alice (recovery-code step skipped: a session is enough to ask).
    other = APIClient()
    other.force_login(passkey_only.user)
    credential = passkey_only.authenticator.get(options(other))

    response = delete_account(passkey_only.client, credential=credential)

    assert response.status_code == 400
    assert response.json() == {"credential": [NO_CHALLENGE]}
    assert not AccountDeletion.objects.exists()


def test_an_assertion_signed_by_another_key_is_refused(passkey_only: PasskeyOnly) -> None:
    impostor = SoftAuthenticator(
        credential_id=passkey_only.authenticator.credential_id,
        user_handle=passkey_only.authenticator.user_handle,
    )
    credential = impostor.get(options(passkey_only.client))

    response = delete_account(passkey_only.client, credential=credential)

    assert response.status_code == 400
    assert response.json() == {"credential": ["Invalid signature."]}
    assert not AccountDeletion.objects.exists()
    assert passkey_only.client.get(ME).status_code == 200


def test_a_wrong_password_spends_no_challenge(passkey_only: PasskeyOnly) -> None:
    credential = passkey_only.authenticator.get(options(passkey_only.client))

    wrong = delete_account(passkey_only.client, password="wrong guess here", credential=credential)
    right = delete_account(passkey_only.client, credential=credential)

    assert wrong.status_code == 400
    assert wrong.json() == {"password": ["Incorrect password."]}
    assert right.status_code == 202, right.content


def test_wrong_assertions_are_limited_like_codes(passkey_only: PasskeyOnly, rates: Any) -> None:
    rates(login_failures="2/300")
    statuses = []
    for _ in range(3):
        credential = passkey_only.authenticator.get(
            options(passkey_only.client), origin="https://evil.example"
        )
        statuses.append(delete_account(passkey_only.client, credential=credential).status_code)

    assert statuses == [400, 400, 429]
    assert not AccountDeletion.objects.exists()


@pytest.mark.parametrize("credential", ["a string", ["a", "list"], 12345, None, {"id": "x"}])
def test_a_malformed_credential_is_a_400(passkey_only: PasskeyOnly, credential: Any) -> None:
    options(passkey_only.client)

    response = delete_account(passkey_only.client, credential=credential)

    assert response.status_code == 400, response.content
    assert "credential" in response.json()
    assert not AccountDeletion.objects.exists()


def test_a_totp_user_has_no_passkey_challenge_to_answer(clock: Clock, enrolled: Enrolled) -> None:
    response = delete_account(token_client(enrolled.key), credential={"id": "x"})

    assert response.status_code == 400
    assert response.json() == {"credential": [NO_CHALLENGE]}
