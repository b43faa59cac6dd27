"""Passkeys on the HTML code step: the page's options endpoint (CSRF-checked, bound to the
session's pending sign-in) and the assertion posted in the form, for the browsable API and admin."""

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.staticfiles import finders
from django.test import Client
from rest_framework.test import APIClient

from blogapi.accounts.forms import CODE_OR_PASSKEY
from blogapi.accounts.models import MfaLoginAttempt, User, WebAuthnChallenge
from blogapi.accounts.services.mfa import BAD_EPHEMERAL, INCORRECT_CODE
from blogapi.accounts.services.webauthn import MALFORMED, NO_CHALLENGE, NOT_CONFIGURED
from blogapi.accounts.tests.mfa import Clock, enroll
from blogapi.accounts.tests.webauthn import SoftAuthenticator, register_passkey
from conftest import PASSWORD, login, token_client


@dataclass(frozen=True)
class Surface:
    """One HTML login: its pages, a page only a signed-in browser may see, where a login lands."""

    login: str
    code: str
    options: str
    protected: str
    landing: str


SURFACES = {
    "browsable": Surface(
        "/api-auth/login/",
        "/api-auth/login/code/",
        "/api-auth/login/code/passkey/",
        "/api/v1/dj-rest-auth/user/",
        "/api/v1/",
    ),
    "admin": Surface(
        "/admin/login/",
        "/admin/login/code/",
        "/admin/login/code/passkey/",
        "/admin/",
        "/admin/",
    ),
}


@dataclass
class PasskeyUser:
    """Staff member alice with one passkey (second step only) and no TOTP."""

    user: User
    authenticator: SoftAuthenticator
    recovery_codes: list[str]


@pytest.fixture
def passkey_user(user_factory: type) -> PasskeyUser:
    alice = user_factory("alice", is_staff=True, is_superuser=True)
    authenticator = SoftAuthenticator()
    client = token_client(login(APIClient(), "alice"))
    body = register_passkey(client, authenticator, passwordless=False)
    return PasskeyUser(alice, authenticator, body["recovery_codes"])


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture(params=list(SURFACES))
def surface(request: pytest.FixtureRequest) -> Surface:
    return SURFACES[request.param]


def csrf_token(browser: Client, url: str) -> str:
    page = browser.get(url)
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert match, f"no CSRF token on {url}"
    return match.group(1).decode()


def password_step(browser: Client, surface: Surface, **extra: str) -> None:
    data = {"username": "alice", "password": PASSWORD, **extra}
    token = csrf_token(browser, surface.login)
    response = browser.post(surface.login, {**data, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert response["Location"] == surface.code


def request_options(browser: Client, surface: Surface) -> Any:
    """What the page's script does: POST with the page's CSRF token in X-CSRFToken."""
    token = csrf_token(browser, surface.code)
    return browser.post(surface.options, headers={"X-CSRFToken": token})


def options_for(browser: Client, surface: Surface) -> dict[str, Any]:
    response = request_options(browser, surface)
    assert response.status_code == 200, response.content
    return dict(response.json()["request_options"])


def post_credential(browser: Client, surface: Surface, credential: Any) -> Any:
    """The passkey form: the assertion (credential.toJSON(), as JSON text) in `credential`."""
    text = credential if isinstance(credential, str) else json.dumps(credential)
    token = csrf_token(browser, surface.code)
    return browser.post(surface.code, {"credential": text, "csrfmiddlewaretoken": token})


def signed_in(browser: Client) -> bool:
    return SESSION_KEY in browser.session


def page_error(response: Any) -> str:
    return response.content.decode()


# --- the page ----------------------------------------------------------------------------------


def test_the_code_page_offers_a_passkey_to_a_user_who_has_one(
    browser: Client, passkey_user: PasskeyUser, surface: Surface
) -> None:
    password_step(browser, surface)

    page = browser.get(surface.code).content.decode()

    assert 'id="passkey-button"' in page
    assert f'data-options-url="{surface.options}"' in page
    assert 'name="credential"' in page
    # The script is a static file of this origin (CSP script-src 'self'), nothing inline.
    assert re.search(r'<script src="/static/accounts/login_passkey\.js" defer>', page)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert finders.find("accounts/login_passkey.js")
    # A passkey-only user has no authenticator app: the field asks for a recovery code.
    assert "Recovery code:" in page
    assert "mfa_" not in page  # the ephemeral token stays server-side


def test_the_code_page_offers_no_passkey_to_a_user_without_one(
    browser: Client, clock: Clock, user_factory: type, surface: Surface
) -> None:
    enroll(clock, user_factory("alice", is_staff=True, is_superuser=True))
    password_step(browser, surface)

    page = browser.get(surface.code).content.decode()

    assert "passkey-button" not in page
    assert "login_passkey.js" not in page
    assert "Code from your authenticator app, or a recovery code:" in page


def test_the_code_page_offers_no_passkey_when_passkeys_are_off(
    browser: Client, passkey_user: PasskeyUser, settings: Any, surface: Surface
) -> None:
    password_step(browser, surface)
    assert "passkey-button" in browser.get(surface.code).content.decode()

    settings.AUTH_WEBAUTHN_RP_ID = ""

    assert "passkey-button" not in browser.get(surface.code).content.decode()


# --- the options endpoint ----------------------------------------------------------------------


def test_the_options_are_those_of_the_pending_sign_in_passkeys(
    browser: Client, passkey_user: PasskeyUser, settings: Any, surface: Surface
) -> None:
    password_step(browser, surface)

    response = request_options(browser, surface)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    public_key = response.json()["request_options"]["publicKey"]
    assert public_key["rpId"] == settings.AUTH_WEBAUTHN_RP_ID
    assert len(public_key["challenge"]) >= 43  # 32 random bytes, base64url
    credential_id = passkey_user.authenticator.get({"publicKey": public_key})["id"]
    assert [c["id"] for c in public_key["allowCredentials"]] == [credential_id]
    # One challenge, bound to the login's ephemeral token like mfa/webauthn/authenticate/'s.
    assert WebAuthnChallenge.objects.filter(user=passkey_user.user).count() == 1


def test_the_options_need_the_csrf_token(
    browser: Client, passkey_user: PasskeyUser, surface: Surface
) -> None:
    password_step(browser, surface)

    response = browser.post(surface.options)

    assert response.status_code == 403
    assert not WebAuthnChallenge.objects.exists()
    # With the page's token the same request is answered: the refusal was the CSRF check's.
    assert request_options(browser, surface).status_code == 200


def test_the_options_without_a_pending_sign_in_say_to_sign_in_again(
    browser: Client, db: None, surface: Surface
) -> None:
    token = csrf_token(browser, surface.login)

    response = browser.post(surface.options, headers={"X-CSRFToken": token})

    assert response.status_code == 400
    assert response.json() == {
        "detail": BAD_EPHEMERAL,
        "code": "sign_in_expired",
        "login_url": surface.login,
    }


@pytest.mark.parametrize("how", ["expired", "spent"])
def test_the_options_of_an_expired_or_spent_sign_in_say_to_sign_in_again(
    browser: Client, passkey_user: PasskeyUser, clock: Clock, surface: Surface, how: str
) -> None:
    password_step(browser, surface, next="/api/v1/posts/")
    token = csrf_token(browser, surface.code)
    if how == "expired":
        clock.shift(timedelta(minutes=5, seconds=1))
    else:  # completed by a racing request
        MfaLoginAttempt.objects.all().delete()

    response = browser.post(surface.options, headers={"X-CSRFToken": token})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "sign_in_expired"
    assert body["login_url"] == surface.login + "?next=%2Fapi%2Fv1%2Fposts%2F"
    assert BAD_EPHEMERAL in browser.get(body["login_url"]).content.decode()
    assert browser.get(surface.code)["Location"] == surface.login  # the step is over


def test_the_options_when_passkeys_are_off_are_a_clear_400(
    browser: Client, passkey_user: PasskeyUser, settings: Any, surface: Surface
) -> None:
    password_step(browser, surface)
    settings.AUTH_WEBAUTHN_RP_ID = ""

    response = request_options(browser, surface)

    assert response.status_code == 400
    assert response.json() == {"detail": NOT_CONFIGURED, "code": "passkey_unavailable"}


def test_the_options_for_a_user_without_a_passkey_are_a_clear_400(
    browser: Client, clock: Clock, user_factory: type, surface: Surface
) -> None:
    enroll(clock, user_factory("alice", is_staff=True, is_superuser=True))
    password_step(browser, surface)

    response = request_options(browser, surface)

    assert response.status_code == 400
    assert response.json() == {
        "detail": "This account has no passkey.",
        "code": "passkey_unavailable",
    }
    assert not WebAuthnChallenge.objects.exists()


def test_the_options_endpoint_only_takes_post(
    browser: Client, passkey_user: PasskeyUser, surface: Surface
) -> None:
    password_step(browser, surface)

    assert browser.get(surface.options).status_code == 405


# --- the assertion in the form -----------------------------------------------------------------


def test_a_passkey_signs_the_browser_in(
    browser: Client, passkey_user: PasskeyUser, surface: Surface
) -> None:
    password_step(browser, surface)
    assertion = passkey_user.authenticator.get(options_for(browser, surface))

    response = post_credential(browser, surface, assertion)

    assert response.status_code == 302
    assert response["Location"] == surface.landing
    assert signed_in(browser)
    assert browser.get(surface.protected).status_code == 200
    assert not MfaLoginAttempt.objects.exists()  # the ephemeral token is spent
    assert not WebAuthnChallenge.objects.exists()  # and the challenge


def test_a_passkey_sign_in_follows_a_safe_next(
    browser: Client, passkey_user: PasskeyUser, surface: Surface
) -> None:
    password_step(browser, surface, next="/api/v1/posts/?page=2")
    assertion = passkey_user.authenticator.get(options_for(browser, surface))

    response = post_credential(browser, surface, assertion)

    assert response["Location"] == "/api/v1/posts/?page=2"


@pytest.mark.parametrize(
    ("lie", "message"),
    [
        ({"origin": "https://evil.example"}, "Invalid origin in CollectedClientData."),
        ({"rp_id": "evil.example"}, "Wrong RP ID hash in response."),
    ],
)
def test_a_wrong_assertion_is_a_form_error(
    browser: Client, passkey_user: PasskeyUser, surface: Surface, lie: dict[str, Any], message: str
) -> None:
    password_step(browser, surface)
    assertion = passkey_user.authenticator.get(options_for(browser, surface), **lie)

    response = post_credential(browser, surface, assertion)

    assert response.status_code == 200
    assert message in page_error(response)
    assert not signed_in(browser)
    assert browser.get(surface.protected).status_code in (302, 401, 403)
    # The challenge was spent by the wrong answer; the sign-in waits for new options.
    assert MfaLoginAttempt.objects.count() == 1
    retry = passkey_user.authenticator.get(options_for(browser, surface))
    assert post_credential(browser, surface, retry).status_code == 302
    assert signed_in(browser)


def test_another_users_passkey_is_refused(
    browser: Client, passkey_user: PasskeyUser, user_factory: type, surface: Surface
) -> None:
    user_factory("bob")
    stranger = SoftAuthenticator()
    register_passkey(token_client(login(APIClient(), "bob")), stranger, passwordless=False)
    password_step(browser, surface)

    response = post_credential(browser, surface, stranger.get(options_for(browser, surface)))

    assert response.status_code == 200
    assert "This passkey is not registered here." in page_error(response)
    assert not signed_in(browser)


def test_an_assertion_without_options_is_refused(
    browser: Client, passkey_user: PasskeyUser, surface: Surface
) -> None:
    password_step(browser, surface)
    options = options_for(browser, surface)
    assertion = passkey_user.authenticator.get(options)
    assert post_credential(browser, surface, assertion).status_code == 302

    again = Client(enforce_csrf_checks=True)
    password_step(again, surface)
    replayed = passkey_user.authenticator.get(options)  # a challenge no longer pending

    response = post_credential(again, surface, replayed)

    assert response.status_code == 200
    assert NO_CHALLENGE in page_error(response)
    assert not signed_in(again)


@pytest.mark.parametrize("how", ["expired", "spent"])
def test_a_passkey_for_an_expired_or_spent_sign_in_goes_back_to_the_login_page(
    browser: Client, passkey_user: PasskeyUser, clock: Clock, surface: Surface, how: str
) -> None:
    password_step(browser, surface)
    assertion = passkey_user.authenticator.get(options_for(browser, surface))
    token = csrf_token(browser, surface.code)
    if how == "expired":
        clock.shift(timedelta(minutes=5, seconds=1))
    else:
        MfaLoginAttempt.objects.all().delete()

    response = browser.post(
        surface.code,
        {"credential": json.dumps(assertion), "csrfmiddlewaretoken": token},
    )

    assert response.status_code == 302
    assert response["Location"].startswith(surface.login)
    assert BAD_EPHEMERAL in browser.get(response["Location"]).content.decode()
    assert not signed_in(browser)


def test_the_passkey_form_needs_the_csrf_token(
    browser: Client, passkey_user: PasskeyUser, surface: Surface
) -> None:
    password_step(browser, surface)
    assertion = passkey_user.authenticator.get(options_for(browser, surface))

    response = browser.post(surface.code, {"credential": json.dumps(assertion)})

    assert response.status_code == 403
    assert not signed_in(browser)
    # The same assertion, with the form's token, is accepted: the refusal was the CSRF check's.
    assert post_credential(browser, surface, assertion).status_code == 302
    assert signed_in(browser)


TOO_LONG = "Ensure this value has at most 16000 characters (it has 20010)."


@pytest.mark.parametrize(
    ("credential", "message"),
    [
        ("not json", MALFORMED),
        ("[]", MALFORMED),
        ('"a string"', MALFORMED),
        ("[" * 7_000 + "]" * 7_000, MALFORMED),  # deeper than the JSON parser's recursion
        ('{"id": "' + "A" * 20_000 + '"}', TOO_LONG),
        ('{"id": "x", "response": {}}', MALFORMED),
        ('{"id": "\\u0000", "type": "public-key", "response": 5}', MALFORMED),
        ('{"id": "\x00"}', "Null characters are not allowed."),
    ],
    ids=["text", "array", "string", "deep", "huge", "incomplete", "escaped-nul", "nul"],
)
def test_a_malformed_credential_is_a_form_error(
    browser: Client, passkey_user: PasskeyUser, surface: Surface, credential: str, message: str
) -> None:
    password_step(browser, surface)
    options_for(browser, surface)

    response = post_credential(browser, surface, credential)

    assert response.status_code == 200
    assert message in page_error(response)
    assert not signed_in(browser)


def test_a_code_and_a_passkey_together_are_a_form_error(
    browser: Client, passkey_user: PasskeyUser, surface: Surface
) -> None:
    password_step(browser, surface)
    assertion = passkey_user.authenticator.get(options_for(browser, surface))
    token = csrf_token(browser, surface.code)

    response = browser.post(
        surface.code,
        {
            "code": passkey_user.recovery_codes[0],
            "credential": json.dumps(assertion),
            "csrfmiddlewaretoken": token,
        },
    )

    assert response.status_code == 200
    assert CODE_OR_PASSKEY in page_error(response)
    assert not signed_in(browser)


def test_wrong_assertions_are_limited_like_passwords(
    browser: Client, passkey_user: PasskeyUser, surface: Surface
) -> None:
    password_step(browser, surface)
    liar: dict[str, Any] = {"origin": "https://evil.example"}

    wrong = [
        post_credential(browser, surface, passkey_user.authenticator.get(options, **liar))
        for options in (options_for(browser, surface) for _ in range(5))
    ]
    locked = post_credential(
        browser, surface, passkey_user.authenticator.get(options_for(browser, surface))
    )

    assert [r.status_code for r in wrong] == [200] * 5
    assert locked.status_code == 429
    assert "Retry-After" in locked
    assert not signed_in(browser)


def test_without_script_a_passkey_only_user_signs_in_with_a_recovery_code(
    browser: Client, passkey_user: PasskeyUser, surface: Surface
) -> None:
    password_step(browser, surface)
    token = csrf_token(browser, surface.code)

    response = browser.post(
        surface.code, {"code": passkey_user.recovery_codes[0], "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 302
    assert signed_in(browser)


def test_a_passkey_form_error_when_passkeys_are_off_is_no_server_error(
    browser: Client, passkey_user: PasskeyUser, settings: Any, surface: Surface
) -> None:
    password_step(browser, surface)
    assertion = passkey_user.authenticator.get(options_for(browser, surface))
    settings.AUTH_WEBAUTHN_RP_ID = ""

    response = post_credential(browser, surface, assertion)

    assert response.status_code == 200
    assert NOT_CONFIGURED in page_error(response)
    assert INCORRECT_CODE not in page_error(response)
    assert not signed_in(browser)
