"""Passkeys over the API: register, list, rename, delete; the second step; passwordless sign-in;
reauthentication; refusals (origin, RP ID, challenge, counter, limits) with real WebAuthn data."""

import json
from dataclasses import dataclass
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.core import mail
from django.test import Client
from fido2.utils import websafe_encode
from fido2.webauthn import AuthenticatorData
from rest_framework.test import APIClient

from blogapi.accounts.models import MfaLoginAttempt, User, WebAuthnChallenge
from blogapi.accounts.tests.mfa import LOGIN, password_step, reauthenticated
from blogapi.accounts.tests.test_authentication import basic_enabled  # noqa: F401
from blogapi.accounts.tests.test_sign_in_surfaces import Basic
from blogapi.accounts.tests.webauthn import (
    AUTHENTICATE,
    LOGIN_BEGIN,
    PASSKEY_LOGIN,
    REAUTH_BEGIN,
    REAUTHENTICATE,
    REGISTER,
    REGISTER_BEGIN,
    VERIFY,
    WEBAUTHN,
    SoftAuthenticator,
    login_options,
    register_begin,
    register_passkey,
    second_factor_options,
)
from conftest import PASSWORD, login, token_client

STATUS = "/api/v1/dj-rest-auth/mfa/status/"


@dataclass
class WithPasskey:
    """Alice with one passkey (passwordless) and the key and client she registered it with."""

    user: User
    authenticator: SoftAuthenticator
    client: APIClient
    passkey_id: int
    recovery_codes: list[str]


@pytest.fixture
def with_passkey(alice: User) -> WithPasskey:
    client = token_client(login(APIClient(), "alice"))
    authenticator = SoftAuthenticator()
    body = register_passkey(client, authenticator)
    return WithPasskey(alice, authenticator, client, body["passkey"]["id"], body["recovery_codes"])


def _second_factor(authenticator: SoftAuthenticator, **lie: Any) -> tuple[str, dict[str, Any]]:
    """A password step, then a passkey assertion for its challenge: (token, credential)."""
    token = password_step(APIClient())["ephemeral_token"]
    return token, authenticator.get(second_factor_options(token), **lie)


def _verify(token: str, credential: Any) -> Any:
    return APIClient().post(
        VERIFY, {"ephemeral_token": token, "credential": credential}, format="json"
    )


# --- registration ------------------------------------------------------------------------


@pytest.mark.parametrize("path", [REGISTER_BEGIN, REGISTER])
def test_registration_needs_a_reauthentication(alice_client: APIClient, path: str) -> None:
    response = alice_client.post(path, {}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "reauthentication_required"


def test_registration_offers_creation_options_for_this_rp_and_user(
    alice: User, settings: Any
) -> None:
    client = reauthenticated(token_client(login(APIClient(), "alice")))

    body = register_begin(client, passwordless=True)

    options = body["creation_options"]["publicKey"]
    assert body["registration_token"].startswith("wreg_")
    assert options["rp"] == {"id": settings.AUTH_WEBAUTHN_RP_ID, "name": "blogapi"}
    assert options["user"]["name"] == "alice@example.com"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert len(options["challenge"]) >= 43  # 32 random bytes, base64url


def test_a_registered_passkey_turns_mfa_on_with_recovery_codes_once(
    with_passkey: WithPasskey,
) -> None:
    client = with_passkey.client

    assert len(set(with_passkey.recovery_codes)) == 10
    assert client.get(STATUS).json() == {
        "mfa_enabled": True,
        "totp": False,
        "recovery_codes_left": 10,
        "webauthn": 1,
    }
    listed = client.get(WEBAUTHN).json()
    assert [(p["id"], p["name"], p["passwordless"], p["last_used_at"]) for p in listed] == [
        (with_passkey.passkey_id, "Alice's phone", True, None)
    ]
    # A second passkey keeps the recovery codes already given.
    second = register_passkey(client, SoftAuthenticator(), passwordless=False, name="Key")
    assert second["recovery_codes"] == []
    assert second["passkey"]["passwordless"] is False


def test_passkeys_are_stored_in_allauths_shape_without_private_material(
    with_passkey: WithPasskey,
) -> None:
    stored = Authenticator.objects.get(pk=with_passkey.passkey_id)

    assert stored.type == "webauthn"
    assert stored.data["name"] == "Alice's phone"
    assert stored.data["credential"]["type"] == "public-key"
    assert str(stored) == "Alice's phone"  # allauth's own wrap() reads our rows


def test_adding_a_passkey_ends_other_credentials_logs_and_mails(
    alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="blogapi.auth")
    other = token_client(login(APIClient(), "alice"))
    client = token_client(login(APIClient(), "alice"))
    mail.outbox.clear()

    register_passkey(client, SoftAuthenticator())

    assert other.get(STATUS).status_code == 401
    assert client.get(STATUS).status_code == 200
    assert "mfa.webauthn_added" in caplog.text
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert "security key has been added" in mail.outbox[0].body


def _registration(client: APIClient, **lie: Any) -> tuple[dict[str, Any], Any]:
    begun = register_begin(reauthenticated(client))
    credential = SoftAuthenticator().create(begun["creation_options"], **lie)
    payload = {"registration_token": begun["registration_token"], "credential": credential}
    return payload, client.post(REGISTER, payload, format="json")


@pytest.mark.parametrize(
    ("lie", "message"),
    [
        ({"origin": "https://evil.example"}, "Invalid origin in CollectedClientData."),
        ({"rp_id": "evil.example"}, "Wrong RP ID hash in response."),
        ({"challenge": b"\1" * 32}, "Wrong challenge in response."),
    ],
)
def test_registration_is_refused_for_another_origin_rp_or_challenge(
    alice: User, lie: dict[str, Any], message: str
) -> None:
    client = token_client(login(APIClient(), "alice"))

    _, response = _registration(client, **lie)

    assert response.status_code == 400
    assert response.json() == {"credential": [message]}
    assert not Authenticator.objects.filter(user=alice).exists()


def test_a_registration_token_works_once(alice: User) -> None:
    client = token_client(login(APIClient(), "alice"))
    payload, first = _registration(client, origin="https://evil.example")

    again = client.post(REGISTER, payload, format="json")

    assert first.status_code == 400  # a wrong answer spends the challenge too
    assert again.status_code == 400
    assert "registration_token" in again.json()


def test_another_users_registration_token_is_refused(alice: User, bob: User) -> None:
    begun = register_begin(reauthenticated(token_client(login(APIClient(), "alice"))))
    bob_client = reauthenticated(token_client(login(APIClient(), "bob")))

    response = bob_client.post(
        REGISTER,
        {
            "registration_token": begun["registration_token"],
            "credential": SoftAuthenticator().create(begun["creation_options"]),
        },
        format="json",
    )

    assert response.status_code == 400
    assert "registration_token" in response.json()
    assert not Authenticator.objects.exists()


def test_a_credential_id_registered_by_someone_else_is_refused(
    with_passkey: WithPasskey, bob: User
) -> None:
    copycat = SoftAuthenticator(credential_id=with_passkey.authenticator.credential_id)
    bob_client = token_client(login(APIClient(), "bob"))
    begun = register_begin(reauthenticated(bob_client))

    response = bob_client.post(
        REGISTER,
        {
            "registration_token": begun["registration_token"],
            "credential": copycat.create(begun["creation_options"]),
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"credential": ["This passkey is already registered."]}


def test_registration_needs_a_verified_address(user_factory: Any) -> None:
    user_factory("carol", email_verified=False)
    client = reauthenticated(token_client(login(APIClient(), "carol")))

    response = client.post(REGISTER_BEGIN, {}, format="json")

    assert response.status_code == 400
    assert "verified" in response.json()["detail"]


@pytest.mark.parametrize(
    "credential",
    [
        "not an object",
        ["a", "list"],
        {},
        {"id": "x", "rawId": "%%%", "type": "public-key", "response": {}},
        {"id": "AA", "rawId": "AA", "type": "public-key", "response": {"clientDataJSON": "\x00"}},
        {
            "id": "AA",
            "rawId": "AA",
            "type": "public-key",
            "response": {"clientDataJSON": "e30", "attestationObject": "AAAA"},
        },
    ],
)
def test_a_malformed_credential_is_a_400(alice: User, credential: Any) -> None:
    client = reauthenticated(token_client(login(APIClient(), "alice")))
    begun = register_begin(client)

    response = client.post(
        REGISTER,
        {"registration_token": begun["registration_token"], "credential": credential},
        format="json",
    )

    assert response.status_code == 400
    assert "credential" in response.json()


# --- list, rename, delete ----------------------------------------------------------------


def test_rename_a_passkey(with_passkey: WithPasskey) -> None:
    response = with_passkey.client.patch(
        f"{WEBAUTHN}{with_passkey.passkey_id}/", {"name": "Work laptop"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Work laptop"
    assert with_passkey.client.get(WEBAUTHN).json()[0]["name"] == "Work laptop"


@pytest.mark.parametrize("payload", [{}, {"name": ""}, {"name": "x" * 101}, {"name": ["a"]}])
def test_rename_refuses_a_bad_name(with_passkey: WithPasskey, payload: dict[str, Any]) -> None:
    response = with_passkey.client.patch(
        f"{WEBAUTHN}{with_passkey.passkey_id}/", payload, format="json"
    )

    assert response.status_code == 400
    assert "name" in response.json()


def test_another_users_passkey_is_a_404(with_passkey: WithPasskey, bob: User) -> None:
    bob_client = reauthenticated(token_client(login(APIClient(), "bob")))
    path = f"{WEBAUTHN}{with_passkey.passkey_id}/"

    assert bob_client.patch(path, {"name": "mine"}, format="json").status_code == 404
    assert bob_client.delete(path).status_code == 404
    assert bob_client.get(WEBAUTHN).json() == []
    assert Authenticator.objects.filter(pk=with_passkey.passkey_id).exists()


def test_deleting_a_passkey_needs_a_reauthentication(with_passkey: WithPasskey) -> None:
    # A fresh sign-in: the registration's reauthentication belongs to the ended credential.
    client = token_client(login_with_recovery_code(with_passkey))

    response = client.delete(f"{WEBAUTHN}{with_passkey.passkey_id}/")

    assert response.status_code == 403
    assert response.json()["code"] == "reauthentication_required"
    assert Authenticator.objects.filter(pk=with_passkey.passkey_id).exists()


def login_with_recovery_code(with_passkey: WithPasskey) -> str:
    token = password_step(APIClient())["ephemeral_token"]
    response = APIClient().post(
        VERIFY,
        {"ephemeral_token": token, "code": with_passkey.recovery_codes.pop()},
        format="json",
    )
    assert response.status_code == 200, response.content
    return str(response.json()["key"])


def test_deleting_the_last_passkey_turns_mfa_off_ends_credentials_and_mails(
    with_passkey: WithPasskey, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="blogapi.auth")
    other = token_client(login_with_recovery_code(with_passkey))
    client = reauthenticated(with_passkey.client)
    mail.outbox.clear()

    response = client.delete(f"{WEBAUTHN}{with_passkey.passkey_id}/")

    assert response.status_code == 204
    assert client.get(STATUS).json() == {
        "mfa_enabled": False,
        "totp": False,
        "recovery_codes_left": None,
        "webauthn": 0,
    }
    assert other.get(STATUS).status_code == 401
    assert "mfa.webauthn_removed" in caplog.text
    assert "security key has been removed" in mail.outbox[0].body
    assert "key" in login_response(APIClient())  # a password alone signs in again


def login_response(client: APIClient) -> dict[str, Any]:
    response = client.post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return dict(response.json())


# --- the login's second step ---------------------------------------------------------------


def test_login_of_a_passkey_user_asks_for_the_second_step(with_passkey: WithPasskey) -> None:
    body = login_response(APIClient())

    assert body["mfa_required"] is True
    assert body["methods"] == ["recovery_codes", "webauthn"]
    assert "key" not in body


def test_second_step_with_a_passkey_answers_a_key(with_passkey: WithPasskey) -> None:
    token = password_step(APIClient())["ephemeral_token"]
    options = second_factor_options(token)

    response = _verify(token, with_passkey.authenticator.get(options))

    assert (
        options["publicKey"]["allowCredentials"][0]["id"]
        == (Authenticator.objects.get(pk=with_passkey.passkey_id).data["credential_id"])
    )
    assert response.status_code == 200, response.content
    assert token_client(response.json()["key"]).get(STATUS).status_code == 200
    assert not MfaLoginAttempt.objects.exists()
    assert with_passkey.client.get(WEBAUTHN).json()[0]["last_used_at"] is not None


@pytest.mark.usefixtures("jwt_mode")
def test_second_step_with_a_passkey_answers_the_jwt_shape(alice: User) -> None:
    authenticator = SoftAuthenticator()
    register_passkey(jwt_client(), authenticator)
    token, credential = _second_factor(authenticator)

    response = _verify(token, credential)

    assert response.status_code == 200, response.content
    assert {"access", "refresh", "user"} <= set(response.json())


def jwt_client() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + login_response(APIClient())["access"])
    return client


def test_a_replayed_assertion_is_refused(with_passkey: WithPasskey) -> None:
    token, credential = _second_factor(with_passkey.authenticator)
    assert _verify(token, credential).status_code == 200
    again = password_step(APIClient())["ephemeral_token"]
    second_factor_options(again)

    response = _verify(again, credential)

    assert response.status_code == 400
    assert response.json() == {"credential": ["Wrong challenge in response."]}


def test_a_challenge_is_spent_by_a_wrong_answer(with_passkey: WithPasskey) -> None:
    token = password_step(APIClient())["ephemeral_token"]
    options = second_factor_options(token)
    wrong = with_passkey.authenticator.get(options, origin="https://evil.example")
    right = with_passkey.authenticator.get(options)

    first = _verify(token, wrong)
    second = _verify(token, right)

    assert first.json() == {"credential": ["Invalid origin in CollectedClientData."]}
    assert second.status_code == 400
    assert "No passkey challenge is pending" in second.json()["credential"][0]
    # The login itself is still pending: a new challenge and a right answer finish it.
    final = _verify(token, with_passkey.authenticator.get(second_factor_options(token)))
    assert final.status_code == 200


@pytest.mark.parametrize(
    ("lie", "message"),
    [
        ({"origin": "http://testserver"}, "Invalid origin in CollectedClientData."),
        ({"rp_id": "evil.example"}, "Wrong RP ID hash in response."),
        ({"flags": AuthenticatorData.FLAG(0)}, "User Present flag not set."),
    ],
)
def test_a_second_step_assertion_is_checked(
    with_passkey: WithPasskey, lie: dict[str, Any], message: str
) -> None:
    token, credential = _second_factor(with_passkey.authenticator, **lie)

    response = _verify(token, credential)

    assert response.status_code == 400
    assert response.json() == {"credential": [message]}


def test_a_signature_by_another_key_is_refused(with_passkey: WithPasskey) -> None:
    impostor = SoftAuthenticator(
        credential_id=with_passkey.authenticator.credential_id,
        user_handle=with_passkey.authenticator.user_handle,
    )
    token, credential = _second_factor(impostor)

    response = _verify(token, credential)

    assert response.status_code == 400
    assert response.json() == {"credential": ["Invalid signature."]}


def test_a_counter_that_goes_back_is_refused_and_logged(
    with_passkey: WithPasskey, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="blogapi.auth")
    token, credential = _second_factor(with_passkey.authenticator, counter=7)
    assert _verify(token, credential).status_code == 200
    token, credential = _second_factor(with_passkey.authenticator, counter=7)

    response = _verify(token, credential)

    assert response.status_code == 400
    assert "counter went backwards" in response.json()["credential"][0]
    assert "mfa.webauthn_counter_regressed" in caplog.text


def test_an_unknown_ephemeral_token_gets_no_options(db: None, api_client: APIClient) -> None:
    response = api_client.post(AUTHENTICATE, {"ephemeral_token": "mfa_nope"}, format="json")

    assert response.status_code == 400
    assert "ephemeral_token" in response.json()


def test_a_totp_user_without_passkeys_gets_no_options(enrolled: Any) -> None:
    token = password_step(APIClient())["ephemeral_token"]

    response = APIClient().post(AUTHENTICATE, {"ephemeral_token": token}, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": "This account has no passkey."}


def test_recovery_codes_sign_a_passkey_only_user_in(with_passkey: WithPasskey) -> None:
    assert token_client(login_with_recovery_code(with_passkey)).get(STATUS).status_code == 200


@pytest.mark.parametrize(
    "payload",
    [
        {"ephemeral_token": "x"},
        {"ephemeral_token": "x", "code": "123456", "credential": {}},
        {"ephemeral_token": "x", "credential": "text"},
    ],
)
def test_verify_takes_exactly_one_code_or_credential(
    db: None, api_client: APIClient, payload: dict[str, Any]
) -> None:
    assert api_client.post(VERIFY, payload, format="json").status_code == 400


def test_wrong_assertions_are_limited_like_codes(with_passkey: WithPasskey, rates: Any) -> None:
    rates(login_failures="2/300")
    token = password_step(APIClient())["ephemeral_token"]
    statuses = []
    for _ in range(3):
        credential = with_passkey.authenticator.get(
            second_factor_options(token), origin="https://evil.example"
        )
        statuses.append(_verify(token, credential))

    assert [r.status_code for r in statuses] == [400, 400, 429]
    assert int(statuses[-1]["Retry-After"]) > 0


# --- passwordless sign-in ----------------------------------------------------------------


def _passwordless(authenticator: SoftAuthenticator, **lie: Any) -> Any:
    options, token = login_options()
    return APIClient().post(
        PASSKEY_LOGIN,
        {"login_token": token, "credential": authenticator.get(options, **lie)},
        format="json",
    )


def test_a_passkey_alone_signs_in(with_passkey: WithPasskey) -> None:
    options, token = login_options()

    response = APIClient().post(
        PASSKEY_LOGIN,
        {
            "login_token": token,
            "credential": with_passkey.authenticator.get(options),
            "device": "Alice's tablet",
        },
        format="json",
    )

    assert options["publicKey"]["userVerification"] == "required"
    assert options["publicKey"]["allowCredentials"] == []
    assert response.status_code == 200, response.content
    client = token_client(response.json()["key"])
    assert "Alice's tablet" in [
        c["label"] for c in client.get("/api/v1/dj-rest-auth/tokens/").json()
    ]


@pytest.mark.usefixtures("jwt_mode")
def test_a_passkey_alone_signs_in_with_jwts(alice: User) -> None:
    authenticator = SoftAuthenticator()
    register_passkey(jwt_client(), authenticator)

    response = _passwordless(authenticator)

    assert response.status_code == 200, response.content
    assert response.json()["user"]["username"] == "alice"
    assert "access" in response.json()


def test_a_second_step_only_passkey_does_not_sign_in_alone(alice: User) -> None:
    authenticator = SoftAuthenticator()
    register_passkey(token_client(login(APIClient(), "alice")), authenticator, passwordless=False)

    response = _passwordless(authenticator)

    assert response.status_code == 400
    assert "second step only" in response.json()["credential"][0]


def test_passwordless_sign_in_needs_user_verification(with_passkey: WithPasskey) -> None:
    response = _passwordless(with_passkey.authenticator, flags=AuthenticatorData.FLAG.UP)

    assert response.status_code == 400
    assert "User verification required" in response.json()["credential"][0]


def test_an_unknown_passkey_does_not_sign_in(db: None) -> None:
    response = _passwordless(SoftAuthenticator())

    assert response.status_code == 400
    assert response.json() == {"credential": ["This passkey is not registered here."]}


def test_a_login_token_works_once(with_passkey: WithPasskey) -> None:
    options, token = login_options()
    payload = {"login_token": token, "credential": with_passkey.authenticator.get(options)}

    first = APIClient().post(PASSKEY_LOGIN, payload, format="json")
    again = APIClient().post(PASSKEY_LOGIN, payload, format="json")

    assert first.status_code == 200
    assert again.status_code == 400
    assert "login_token" in again.json()
    assert not WebAuthnChallenge.objects.exists()


def test_an_inactive_user_does_not_sign_in_with_a_passkey(with_passkey: WithPasskey) -> None:
    User.objects.filter(pk=with_passkey.user.pk).update(is_active=False)

    assert _passwordless(with_passkey.authenticator).status_code == 400


def test_wrong_passkey_sign_ins_lock_the_account(with_passkey: WithPasskey, rates: Any) -> None:
    rates(login_failures="2/300")
    statuses = [
        _passwordless(with_passkey.authenticator, origin="https://evil.example").status_code
        for _ in range(2)
    ]

    locked = _passwordless(with_passkey.authenticator)

    assert statuses == [400, 400]
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0


def test_passkey_sign_in_starts_are_limited_by_ip(db: None, rates: Any) -> None:
    rates(login_ip="2/60")
    client = APIClient()

    statuses = [
        client.post("/api/v1/dj-rest-auth/mfa/webauthn/login/begin/").status_code for _ in range(3)
    ]

    assert statuses == [200, 200, 429]


# --- reauthentication, Basic ----------------------------------------------------------------


def test_a_passkey_reauthenticates(with_passkey: WithPasskey) -> None:
    client = token_client(login_with_recovery_code(with_passkey))
    options = client.post(REAUTH_BEGIN).json()["request_options"]

    response = client.post(
        REAUTHENTICATE, {"credential": with_passkey.authenticator.get(options)}, format="json"
    )

    assert response.status_code == 200, response.content
    assert client.delete(f"{WEBAUTHN}{with_passkey.passkey_id}/").status_code == 204


def test_a_reauthentication_challenge_is_bound_to_the_credential(
    with_passkey: WithPasskey,
) -> None:
    one = token_client(login_with_recovery_code(with_passkey))
    other = token_client(login_with_recovery_code(with_passkey))
    options = one.post(REAUTH_BEGIN).json()["request_options"]

    response = other.post(
        REAUTHENTICATE, {"credential": with_passkey.authenticator.get(options)}, format="json"
    )

    assert response.status_code == 400
    assert other.delete(f"{WEBAUTHN}{with_passkey.passkey_id}/").status_code == 403


def test_reauthentication_takes_exactly_one_proof(with_passkey: WithPasskey) -> None:
    response = with_passkey.client.post(
        REAUTHENTICATE, {"password": PASSWORD, "credential": {}}, format="json"
    )

    assert response.status_code == 400


@pytest.mark.usefixtures("basic_enabled")
def test_basic_refuses_a_passkey_only_user(with_passkey: WithPasskey) -> None:
    assert Basic(with_passkey.user).send(PASSWORD).status_code == 401


# --- TOTP beside passkeys ------------------------------------------------------------------


def test_turning_totp_off_keeps_the_recovery_codes_of_remaining_passkeys(
    clock: Any, with_passkey: WithPasskey
) -> None:
    from blogapi.accounts.tests.mfa import ACTIVATE, totp

    client = reauthenticated(with_passkey.client)
    setup = client.get(ACTIVATE).json()
    activated = client.post(
        ACTIVATE,
        {"activation_token": setup["activation_token"], "code": totp(setup["secret"], clock.now)},
        format="json",
    )
    assert activated.json() == {"recovery_codes": []}  # the passkey's set stays
    clock.step()
    reauthenticated(client)

    off = client.post(
        "/api/v1/dj-rest-auth/mfa/totp/deactivate/",
        {"code": totp(setup["secret"], clock.now)},
        format="json",
    )

    assert off.status_code == 200, off.content
    status = client.get(STATUS).json()
    assert status["mfa_enabled"] is True
    assert status["recovery_codes_left"] == 10


def test_passkeys_off_say_how_to_turn_them_on(alice: User, settings: Any) -> None:
    settings.AUTH_WEBAUTHN_RP_ID = ""
    client = reauthenticated(token_client(login(APIClient(), "alice")))

    responses = [client.post(REGISTER_BEGIN, {}, format="json"), APIClient().post(LOGIN_BEGIN)]

    assert [r.status_code for r in responses] == [400, 400]
    assert all("AUTH_WEBAUTHN_RP_ID" in r.json()["detail"] for r in responses)


# --- hostile input: never a 5xx ------------------------------------------------------------


def _client_data(**fields: Any) -> str:
    return websafe_encode(json.dumps(fields).encode())


HOSTILE_RESPONSES = [
    {"clientDataJSON": _client_data(type="webauthn.get", challenge="AA", origin=["a"])},
    {"clientDataJSON": _client_data(type=["webauthn.get"], challenge="AA", origin="x")},
    {"clientDataJSON": _client_data(type="webauthn.get", challenge=7, origin="x")},
    {"clientDataJSON": _client_data(type="webauthn.get", origin="x")},
    {"clientDataJSON": websafe_encode(b"\x00\xff not json")},
    {"authenticatorData": "AA"},
    {"authenticatorData": websafe_encode(b"\x00" * 37 + b"\xff" * 40)},
    {"signature": "AA"},
    {"signature": 12},
]


@pytest.mark.parametrize("change", HOSTILE_RESPONSES)
@pytest.mark.parametrize("step", ["second_factor", "passwordless", "reauthenticate"])
def test_a_tampered_assertion_is_a_400(
    with_passkey: WithPasskey, change: dict[str, Any], step: str
) -> None:
    if step == "second_factor":
        token = password_step(APIClient())["ephemeral_token"]
        credential = with_passkey.authenticator.get(second_factor_options(token))
        send = lambda c: _verify(token, c)  # noqa: E731
    elif step == "passwordless":
        options, login_token = login_options()
        credential = with_passkey.authenticator.get(options)
        send = lambda c: APIClient().post(  # noqa: E731
            PASSKEY_LOGIN, {"login_token": login_token, "credential": c}, format="json"
        )
    else:
        options = with_passkey.client.post(REAUTH_BEGIN).json()["request_options"]
        credential = with_passkey.authenticator.get(options)
        send = lambda c: with_passkey.client.post(  # noqa: E731
            REAUTHENTICATE, {"credential": c}, format="json"
        )
    credential["response"].update(change)

    response = send(credential)

    assert response.status_code == 400, response.content
    assert "credential" in response.json()


def test_a_passkey_naming_another_user_does_not_sign_in(with_passkey: WithPasskey) -> None:
    options, login_token = login_options()
    credential = with_passkey.authenticator.get(options)
    credential["response"]["userHandle"] = websafe_encode(b"999")

    response = APIClient().post(
        PASSKEY_LOGIN, {"login_token": login_token, "credential": credential}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"credential": ["This passkey is not registered here."]}


# --- the HTML surfaces and the admin ------------------------------------------------------


@pytest.mark.parametrize("url", ["/api-auth/login/", "/admin/login/"])
def test_html_logins_ask_a_passkey_user_for_the_second_step(
    with_passkey: WithPasskey, url: str
) -> None:
    User.objects.filter(pk=with_passkey.user.pk).update(is_staff=True, is_superuser=True)
    browser = Client()

    response = browser.post(url, {"username": "alice", "password": PASSWORD})
    assert response["Location"] == url + "code/"
    signed = browser.post(url + "code/", {"code": with_passkey.recovery_codes[0]})

    assert signed.status_code == 302
    assert int(browser.session["_auth_user_id"]) == with_passkey.user.pk


def test_staff_see_passkeys_without_key_material(
    with_passkey: WithPasskey, user_factory: Any
) -> None:
    staff = Client()
    staff.force_login(user_factory("root", is_staff=True, is_superuser=True))
    stored = Authenticator.objects.get(pk=with_passkey.passkey_id)

    listing = staff.get("/admin/mfa/authenticator/")
    page = staff.get(f"/admin/mfa/authenticator/{stored.pk}/change/")

    assert listing.status_code == page.status_code == 200
    assert "webauthn" in listing.content.decode().lower()
    attestation = stored.data["credential"]["response"]["attestationObject"]
    assert attestation not in page.content.decode()


def test_staff_removing_factors_removes_passkeys(
    with_passkey: WithPasskey, user_factory: Any
) -> None:
    from blogapi.accounts.tests.test_mfa_admin import admin_browser, remove_mfa

    root = user_factory("root", is_staff=True, is_superuser=True)

    assert remove_mfa(admin_browser(root), with_passkey.user) == 302
    assert not Authenticator.objects.filter(user=with_passkey.user).exists()
    assert "key" in login_response(APIClient())
