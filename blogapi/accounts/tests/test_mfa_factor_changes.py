"""Adding or removing a factor ends every other credential, is logged and mailed to the owner."""

from datetime import timedelta

import pytest
from django.core import mail
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from blogapi.accounts.tests.mfa import ACTIVATE, Clock, enroll, reauthenticated, totp
from blogapi.accounts.tests.test_mfa import DEACTIVATE, STATUS
from conftest import login, token_client


def test_turning_totp_on_ends_the_other_credentials_keeps_this_one_and_notifies(
    clock: Clock, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    other = token_client(login(APIClient(), "alice"))
    mail.outbox.clear()
    caplog.set_level("INFO", logger="blogapi.auth")

    enrolled = enroll(clock, alice)

    assert other.get(STATUS).status_code == 401
    assert token_client(enrolled.key).get(STATUS).status_code == 200
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert enrolled.secret not in mail.outbox[0].body
    assert "mfa.totp_activated" in caplog.text


def test_turning_totp_off_ends_the_other_credentials_and_notifies(
    clock: Clock, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    enrolled = enroll(clock, alice)
    other = APIClient().post(
        "/api/v1/dj-rest-auth/mfa/verify/",
        {
            "ephemeral_token": APIClient()
            .post(
                "/api/v1/dj-rest-auth/login/",
                {"username": "alice", "password": "correct horse battery staple"},
                format="json",
            )
            .json()["ephemeral_token"],
            "code": enrolled.recovery_codes[0],
        },
        format="json",
    )
    other_client = token_client(other.json()["key"])
    mail.outbox.clear()
    caplog.set_level("INFO", logger="blogapi.auth")
    this = reauthenticated(token_client(enrolled.key))

    response = this.post(DEACTIVATE, {"code": totp(enrolled.secret, clock.now)}, format="json")

    assert response.status_code == 200
    assert other_client.get(STATUS).status_code == 401
    assert this.get(STATUS).status_code == 200
    assert len(mail.outbox) == 1
    assert "mfa.totp_deactivated" in caplog.text


def test_a_refused_activation_ends_nothing_and_mails_nothing(clock: Clock, alice: User) -> None:
    other = token_client(login(APIClient(), "alice"))
    client = token_client(login(APIClient(), "alice"))
    setup = client.get(ACTIVATE).json()
    mail.outbox.clear()

    client.post(
        ACTIVATE,
        {
            "activation_token": setup["activation_token"],
            "code": totp(setup["secret"], clock.now + timedelta(minutes=3)),
        },
        format="json",
    )

    assert other.get(STATUS).status_code == 200
    assert mail.outbox == []
