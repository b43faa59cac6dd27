"""Passkey races through a live server: one challenge answered at once many times signs in once."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from blogapi.accounts.tests.test_races import all_at_once, post_json
from blogapi.accounts.tests.webauthn import (
    PASSKEY_LOGIN,
    VERIFY,
    SoftAuthenticator,
    login_options,
    register_passkey,
    second_factor_options,
)
from conftest import PASSWORD, login, token_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _generous_limits(settings: Any) -> None:
    settings.RATE_LIMITS = {scope: "1000/60" for scope in settings.RATE_LIMITS}


@pytest.fixture
def authenticator(alice: User) -> SoftAuthenticator:
    authenticator = SoftAuthenticator()
    register_passkey(token_client(login(APIClient(), "alice")), authenticator)
    return authenticator


def test_simultaneous_answers_to_one_login_challenge_sign_in_once(
    live_server: Any, authenticator: SoftAuthenticator
) -> None:
    options, token = login_options()
    body = {"login_token": token, "credential": authenticator.get(options)}

    results = all_at_once([lambda: post_json(live_server.url + PASSKEY_LOGIN, body)] * 4)

    assert sorted(status for status, _ in results) == [200, 400, 400, 400], results


def test_simultaneous_answers_to_one_second_step_sign_in_once(
    live_server: Any, authenticator: SoftAuthenticator
) -> None:
    answer = APIClient().post(
        "/api/v1/dj-rest-auth/login/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    ephemeral = answer.json()["ephemeral_token"]
    body = {
        "ephemeral_token": ephemeral,
        "credential": authenticator.get(second_factor_options(ephemeral)),
    }

    results = all_at_once([lambda: post_json(live_server.url + VERIFY, body)] * 4)

    assert sorted(status for status, _ in results) == [200, 400, 400, 400], results
