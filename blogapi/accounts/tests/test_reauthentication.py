"""Reauthentication: sensitive steps need the credential in use to have proved its owner again."""

from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from blogapi.accounts.tests.mfa import REAUTHENTICATE, Clock, Enrolled, totp
from blogapi.accounts.tests.test_mfa import DEACTIVATE, REGENERATE, STATUS
from conftest import PASSWORD, login, token_client

SENSITIVE = [(DEACTIVATE, "code"), (REGENERATE, None)]


def _attempt(
    client: APIClient, path: str, field: str | None, enrolled: Enrolled, clock: Clock
) -> Any:
    body = {field: totp(enrolled.secret, clock.now)} if field else {}
    return client.post(path, body, format="json")


@pytest.mark.parametrize(("path", "field"), SENSITIVE)
def test_sensitive_steps_need_a_reauthentication(
    clock: Clock, enrolled: Enrolled, path: str, field: str | None
) -> None:
    response = _attempt(token_client(enrolled.key), path, field, enrolled, clock)

    assert response.status_code == 403
    assert response.json()["code"] == "reauthentication_required"
    assert response.json()["detail"]
    assert token_client(enrolled.key).get(STATUS).json()["recovery_codes_left"] == 10


@pytest.mark.parametrize(("path", "field"), SENSITIVE)
@pytest.mark.parametrize("proof", ["password", "code"])
def test_a_reauthentication_by_password_or_code_opens_them(
    clock: Clock, enrolled: Enrolled, path: str, field: str | None, proof: str
) -> None:
    client = token_client(enrolled.key)
    value = PASSWORD if proof == "password" else totp(enrolled.secret, clock.now)
    assert client.post(REAUTHENTICATE, {proof: value}, format="json").status_code == 200
    clock.step()  # a fresh code for a deactivation

    assert _attempt(client, path, field, enrolled, clock).status_code == 200


def test_a_reauthentication_lasts_five_minutes(clock: Clock, enrolled: Enrolled) -> None:
    client = token_client(enrolled.key)
    client.post(REAUTHENTICATE, {"password": PASSWORD}, format="json")
    clock.shift(timedelta(minutes=5, seconds=1))

    assert client.post(REGENERATE).status_code == 403


def test_a_reauthentication_marks_only_the_credential_that_made_it(
    clock: Clock, enrolled: Enrolled
) -> None:
    token_client(enrolled.key).post(REAUTHENTICATE, {"password": PASSWORD}, format="json")
    ephemeral = (
        APIClient()
        .post(
            "/api/v1/dj-rest-auth/login/",
            {"username": "alice", "password": PASSWORD},
            format="json",
        )
        .json()["ephemeral_token"]
    )
    other_key = (
        APIClient()
        .post(
            "/api/v1/dj-rest-auth/mfa/verify/",
            {"ephemeral_token": ephemeral, "code": enrolled.recovery_codes[0]},
            format="json",
        )
        .json()["key"]
    )

    assert token_client(other_key).post(REGENERATE).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [({"password": "wrong password here"}, "password"), ({"code": "000000"}, "code")],
)
def test_a_wrong_proof_is_refused(enrolled: Enrolled, body: dict[str, str], field: str) -> None:
    client = token_client(enrolled.key)

    response = client.post(REAUTHENTICATE, body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert client.post(REGENERATE).status_code == 403


def test_reauthentication_is_limited_like_a_sign_in(alice: User, rates: Any) -> None:
    rates(login_failures="2/300")
    client = token_client(login(APIClient(), "alice"))
    for _ in range(2):
        client.post(REAUTHENTICATE, {"password": "wrong password here"}, format="json")

    response = client.post(REAUTHENTICATE, {"password": PASSWORD}, format="json")

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize(
    "body",
    [{}, {"password": PASSWORD, "code": "123456"}, {"password": []}, {"code": "1" * 5000}],
)
def test_malformed_reauthentication_is_a_400(alice: User, body: dict[str, Any]) -> None:
    client = token_client(login(APIClient(), "alice"))

    assert client.post(REAUTHENTICATE, body, format="json").status_code == 400


def test_reauthentication_needs_a_signed_in_caller(api_client: APIClient) -> None:
    assert api_client.post(REAUTHENTICATE, {"password": PASSWORD}, format="json").status_code == 401
