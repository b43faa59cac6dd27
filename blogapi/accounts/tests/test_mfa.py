"""Two-factor sign-in over the API: TOTP on and off, recovery codes, the login's code step."""

import base64
from datetime import timedelta
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from rest_framework.test import APIClient

from blogapi.accounts.models import DeviceToken, MfaLoginAttempt, RefreshFamily, User
from blogapi.accounts.tests.mfa import (
    ACTIVATE,
    API,
    LOGIN,
    Clock,
    Enrolled,
    enroll,
    password_step,
    reauthenticated,
    totp,
)
from conftest import PASSWORD, login, token_client

STATUS = API + "mfa/status/"
DEACTIVATE = API + "mfa/totp/deactivate/"
CODES = API + "mfa/recovery-codes/"
REGENERATE = API + "mfa/recovery-codes/regenerate/"
VERIFY = API + "mfa/verify/"


# --- status, activation, recovery codes ------------------------------------------------------


def test_status_of_a_user_without_a_second_factor(alice: User) -> None:
    response = token_client(login(APIClient(), "alice")).get(STATUS)

    assert response.status_code == 200
    assert response.json() == {
        "mfa_enabled": False,
        "totp": False,
        "recovery_codes_left": None,
        "webauthn": 0,
    }


@pytest.mark.parametrize("path", [STATUS, ACTIVATE, CODES])
def test_mfa_endpoints_need_a_signed_in_caller(api_client: APIClient, path: str) -> None:
    assert api_client.get(path).status_code == 401


def test_activation_offers_a_secret_its_url_and_qr_code(alice: User) -> None:
    response = token_client(login(APIClient(), "alice")).get(ACTIVATE)

    body = response.json()
    assert set(body) == {"secret", "totp_url", "qr_code_data_uri", "activation_token"}
    assert len(base64.b32decode(body["secret"])) == 20
    assert body["totp_url"].startswith("otpauth://totp/")
    assert f"secret={body['secret']}" in body["totp_url"]
    assert body["qr_code_data_uri"].startswith("data:image/svg+xml;base64,")


def test_activation_answers_ten_recovery_codes_once(clock: Clock, alice: User) -> None:
    enrolled = enroll(clock, alice)
    client = token_client(enrolled.key)

    assert len(set(enrolled.recovery_codes)) == 10
    assert client.get(STATUS).json() == {
        "mfa_enabled": True,
        "totp": True,
        "recovery_codes_left": 10,
        "webauthn": 0,
    }
    assert client.get(CODES).json() == {"recovery_codes_left": 10}


def test_recovery_codes_are_stored_only_as_digests(enrolled: Enrolled) -> None:
    stored = str(Authenticator.objects.get(user=enrolled.user, type="recovery_codes").data)

    for code in enrolled.recovery_codes:
        assert code not in stored
        assert code.replace("-", "") not in stored


def test_activation_with_a_wrong_code_is_refused(clock: Clock, alice: User) -> None:
    client = token_client(login(APIClient(), "alice"))
    setup = client.get(ACTIVATE).json()
    wrong = totp(setup["secret"], clock.now + timedelta(minutes=5))

    response = client.post(
        ACTIVATE, {"activation_token": setup["activation_token"], "code": wrong}, format="json"
    )

    assert response.status_code == 400
    assert "code" in response.json()
    assert client.get(STATUS).json()["totp"] is False


def test_an_activation_token_of_another_user_is_refused(
    clock: Clock, alice: User, bob: User
) -> None:
    setup = token_client(login(APIClient(), "alice")).get(ACTIVATE).json()

    response = token_client(login(APIClient(), "bob")).post(
        ACTIVATE,
        {"activation_token": setup["activation_token"], "code": totp(setup["secret"], clock.now)},
        format="json",
    )

    assert response.status_code == 400
    assert "activation_token" in response.json()


def test_activation_needs_a_verified_address(clock: Clock, user_factory: Any) -> None:
    user_factory("carol", email_verified=False)

    response = token_client(login(APIClient(), "carol")).get(ACTIVATE)

    assert response.status_code == 400
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"activation_token": [], "code": {}},
        {"activation_token": "x" * 5000, "code": "123456"},
        {"activation_token": "x", "code": "1" * 5000},
    ],
)
def test_malformed_activation_is_a_400(alice: User, body: dict[str, Any]) -> None:
    response = token_client(login(APIClient(), "alice")).post(ACTIVATE, body, format="json")

    assert response.status_code == 400


def test_deactivation_with_a_current_code_turns_it_off(clock: Clock, enrolled: Enrolled) -> None:
    client = reauthenticated(token_client(enrolled.key))

    response = client.post(DEACTIVATE, {"code": totp(enrolled.secret, clock.now)}, format="json")

    assert response.status_code == 200
    assert client.get(STATUS).json()["mfa_enabled"] is False
    assert "mfa_required" not in password_step(APIClient())


def test_deactivation_with_a_wrong_code_leaves_it_on(clock: Clock, enrolled: Enrolled) -> None:
    client = reauthenticated(token_client(enrolled.key))
    wrong = totp(enrolled.secret, clock.now + timedelta(minutes=5))

    response = client.post(DEACTIVATE, {"code": wrong}, format="json")

    assert response.status_code == 400
    assert client.get(STATUS).json()["mfa_enabled"] is True


def test_regenerated_recovery_codes_replace_the_old_ones(clock: Clock, enrolled: Enrolled) -> None:
    response = reauthenticated(token_client(enrolled.key)).post(REGENERATE)

    assert response.status_code == 200
    new = response.json()["recovery_codes"]
    assert len(new) == 10
    assert not set(new) & set(enrolled.recovery_codes)
    old = password_step(APIClient())["ephemeral_token"]
    refused = APIClient().post(
        VERIFY, {"ephemeral_token": old, "code": enrolled.recovery_codes[0]}, format="json"
    )
    assert refused.status_code == 400
    accepted = APIClient().post(VERIFY, {"ephemeral_token": old, "code": new[0]}, format="json")
    assert accepted.status_code == 200


def test_regenerating_without_a_second_factor_is_refused(alice: User) -> None:
    client = reauthenticated(token_client(login(APIClient(), "alice")))

    response = client.post(REGENERATE)

    assert response.status_code == 400
    assert set(response.json()) == {"detail"}


def test_activation_is_refused_when_totp_is_already_on(enrolled: Enrolled) -> None:
    response = token_client(enrolled.key).get(ACTIVATE)

    assert response.status_code == 400
    assert set(response.json()) == {"detail"}


# --- the login's second step -----------------------------------------------------------------


def test_login_of_a_user_with_totp_asks_for_the_code_and_issues_nothing(
    enrolled: Enrolled,
) -> None:
    tokens_before = DeviceToken.objects.count()

    body = password_step(APIClient())

    assert body["mfa_required"] is True
    assert body["methods"] == ["totp", "recovery_codes"]
    assert set(body) == {"mfa_required", "ephemeral_token", "methods"}
    assert DeviceToken.objects.count() == tokens_before


def test_the_ephemeral_token_is_stored_as_a_digest(enrolled: Enrolled) -> None:
    token = password_step(APIClient())["ephemeral_token"]

    assert not MfaLoginAttempt.objects.filter(digest=token).exists()
    assert MfaLoginAttempt.objects.filter(user=enrolled.user).count() == 1


def test_a_totp_code_completes_the_login_with_a_token(clock: Clock, enrolled: Enrolled) -> None:
    token = password_step(APIClient(), device="Alice's phone")["ephemeral_token"]

    response = APIClient().post(
        VERIFY, {"ephemeral_token": token, "code": totp(enrolled.secret, clock.now)}, format="json"
    )

    assert response.status_code == 200
    assert set(response.json()) == {"key"}
    assert token_client(response.json()["key"]).get(API + "user/").json()["username"] == "alice"
    assert DeviceToken.objects.filter(label="Alice's phone").exists()


def test_a_totp_code_completes_the_login_with_jwt_in_jwt_mode(
    clock: Clock, enrolled: Enrolled, jwt_mode: None
) -> None:
    body = password_step(APIClient())
    assert RefreshFamily.objects.count() == 0

    response = APIClient().post(
        VERIFY,
        {"ephemeral_token": body["ephemeral_token"], "code": totp(enrolled.secret, clock.now)},
        format="json",
    )

    assert response.status_code == 200
    assert {"access", "refresh", "user"} <= set(response.json())
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert bearer.get(API + "user/").json()["username"] == "alice"


def test_a_totp_code_completes_the_login_with_cookies_in_cookie_mode(
    clock: Clock, enrolled: Enrolled, jwt_mode: None, settings: Any
) -> None:
    settings.AUTH_JWT_COOKIES = True
    token = password_step(APIClient())["ephemeral_token"]

    response = APIClient().post(
        VERIFY, {"ephemeral_token": token, "code": totp(enrolled.secret, clock.now)}, format="json"
    )

    assert response.status_code == 200
    assert "refresh" not in response.json()
    assert any(cookie["httponly"] for cookie in response.cookies.values())


def test_an_ephemeral_token_works_once(clock: Clock, enrolled: Enrolled) -> None:
    token = password_step(APIClient())["ephemeral_token"]
    first = APIClient().post(
        VERIFY, {"ephemeral_token": token, "code": enrolled.recovery_codes[0]}, format="json"
    )
    assert first.status_code == 200

    again = APIClient().post(
        VERIFY, {"ephemeral_token": token, "code": enrolled.recovery_codes[1]}, format="json"
    )

    assert again.status_code == 400
    assert "ephemeral_token" in again.json()


def test_an_ephemeral_token_dies_after_five_minutes_even_after_a_wrong_code(
    clock: Clock, enrolled: Enrolled
) -> None:
    token = password_step(APIClient())["ephemeral_token"]
    clock.shift(timedelta(minutes=4))
    wrong = APIClient().post(VERIFY, {"ephemeral_token": token, "code": "000000"}, format="json")
    assert wrong.status_code == 400
    clock.shift(timedelta(minutes=1, seconds=1))

    late = APIClient().post(
        VERIFY, {"ephemeral_token": token, "code": totp(enrolled.secret, clock.now)}, format="json"
    )

    assert late.status_code == 400
    assert "ephemeral_token" in late.json()


def test_a_totp_code_is_refused_a_second_time(clock: Clock, enrolled: Enrolled) -> None:
    code = totp(enrolled.secret, clock.now)
    first = password_step(APIClient())["ephemeral_token"]
    assert (
        APIClient()
        .post(VERIFY, {"ephemeral_token": first, "code": code}, format="json")
        .status_code
        == 200
    )
    second = password_step(APIClient())["ephemeral_token"]

    replay = APIClient().post(VERIFY, {"ephemeral_token": second, "code": code}, format="json")

    assert replay.status_code == 400
    clock.step()
    fresh = APIClient().post(
        VERIFY,
        {"ephemeral_token": second, "code": totp(enrolled.secret, clock.now)},
        format="json",
    )
    assert fresh.status_code == 200


def test_a_recovery_code_works_once(enrolled: Enrolled) -> None:
    code = enrolled.recovery_codes[3]
    first = password_step(APIClient())["ephemeral_token"]
    assert (
        APIClient()
        .post(VERIFY, {"ephemeral_token": first, "code": code}, format="json")
        .status_code
        == 200
    )
    second = password_step(APIClient())["ephemeral_token"]

    again = APIClient().post(VERIFY, {"ephemeral_token": second, "code": code}, format="json")

    assert again.status_code == 400
    assert token_client(enrolled.key).get(CODES).json() == {"recovery_codes_left": 9}


def test_failed_codes_are_limited_like_passwords(
    clock: Clock, enrolled: Enrolled, rates: Any
) -> None:
    rates(login_failures="3/300")
    token = password_step(APIClient())["ephemeral_token"]
    for _ in range(3):
        wrong = APIClient().post(
            VERIFY, {"ephemeral_token": token, "code": "000000"}, format="json"
        )
        assert wrong.status_code == 400

    locked = APIClient().post(
        VERIFY, {"ephemeral_token": token, "code": totp(enrolled.secret, clock.now)}, format="json"
    )

    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    # The account's counter: its password is refused too until the window ends.
    assert (
        APIClient()
        .post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json")
        .status_code
        == 429
    )


def test_failed_codes_are_charged_to_the_ip(clock: Clock, enrolled: Enrolled, rates: Any) -> None:
    token = password_step(APIClient())["ephemeral_token"]
    rates(login_ip="2/60")

    for _ in range(2):
        APIClient().post(VERIFY, {"ephemeral_token": token, "code": "000000"}, format="json")
    locked = APIClient().post(
        VERIFY, {"ephemeral_token": token, "code": totp(enrolled.secret, clock.now)}, format="json"
    )

    assert locked.status_code == 429


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ephemeral_token": [], "code": {}},
        {"ephemeral_token": "x" * 5000, "code": "123456"},
        {"ephemeral_token": "mfa_nothing", "code": "123456"},
        {"ephemeral_token": "mfa_nothing\x00", "code": "123456"},
    ],
)
def test_malformed_or_unknown_verify_is_a_400(db: None, body: dict[str, Any]) -> None:
    assert APIClient().post(VERIFY, body, format="json").status_code == 400


@pytest.mark.parametrize("code", ["١٢٣٤٥٦", "12345\u00b2", "ǅ" * 25, "123456\x00"])
def test_odd_codes_are_refused_with_a_400(enrolled: Enrolled, code: str) -> None:
    token = password_step(APIClient())["ephemeral_token"]

    response = APIClient().post(VERIFY, {"ephemeral_token": token, "code": code}, format="json")

    assert response.status_code == 400


@pytest.mark.parametrize("code", ["١٢٣٤٥٦", "12345\u00b2", "ǅ" * 6])
def test_odd_codes_are_refused_with_a_400_at_activation(alice: User, code: str) -> None:
    client = token_client(login(APIClient(), "alice"))
    setup = client.get(ACTIVATE).json()

    response = client.post(
        ACTIVATE, {"activation_token": setup["activation_token"], "code": code}, format="json"
    )

    assert response.status_code == 400


def test_guessing_ephemeral_tokens_is_charged_to_the_ip(db: None, rates: Any) -> None:
    rates(login_ip="2/60")
    for _ in range(2):
        guess = APIClient().post(
            VERIFY, {"ephemeral_token": "mfa_guess", "code": "123456"}, format="json"
        )
        assert guess.status_code == 400

    locked = APIClient().post(
        VERIFY, {"ephemeral_token": "mfa_guess", "code": "123456"}, format="json"
    )

    assert locked.status_code == 429
