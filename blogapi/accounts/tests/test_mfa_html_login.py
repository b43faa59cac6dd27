"""The HTML logins' code step: a right password leads to a code page; only a right code signs in."""

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from blogapi.accounts.services.mfa import BAD_EPHEMERAL, INCORRECT_CODE
from blogapi.accounts.tests.mfa import Clock, Enrolled, enroll, totp
from conftest import PASSWORD

# (password page, code page, a page only a signed-in browser may see, where a login lands)
SURFACES = {
    "browsable": (
        "/api-auth/login/",
        "/api-auth/login/code/",
        "/api/v1/dj-rest-auth/user/",
        "/api/v1/",
    ),
    "admin": ("/admin/login/", "/admin/login/code/", "/admin/", "/admin/"),
}


@pytest.fixture
def staff_enrolled(clock: Clock, user_factory: type) -> Enrolled:
    alice = user_factory("alice", is_staff=True, is_superuser=True)
    return enroll(clock, alice)


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)


def _csrf(browser: Client, url: str) -> str:
    page = browser.get(url)
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert match, f"no CSRF token on {url}"
    return match.group(1).decode()


def password_step(browser: Client, surface: str, **extra: str) -> Any:
    login_url = SURFACES[surface][0]
    data = {"username": "alice", "password": PASSWORD, **extra}
    return browser.post(login_url, {**data, "csrfmiddlewaretoken": _csrf(browser, login_url)})


def code_step(browser: Client, surface: str, code: str) -> Any:
    code_url = SURFACES[surface][1]
    return browser.post(code_url, {"code": code, "csrfmiddlewaretoken": _csrf(browser, code_url)})


def signed_in(browser: Client) -> bool:
    return SESSION_KEY in browser.session


@pytest.mark.parametrize("surface", SURFACES)
def test_a_right_password_leads_to_the_code_page_without_signing_in(
    browser: Client, staff_enrolled: Enrolled, surface: str
) -> None:
    response = password_step(browser, surface)

    assert response.status_code == 302
    assert response["Location"] == SURFACES[surface][1]
    assert not signed_in(browser)
    assert browser.get(SURFACES[surface][2]).status_code in (302, 401, 403)
    page = browser.get(SURFACES[surface][1])
    assert page.status_code == 200
    assert b'name="code"' in page.content
    assert "no-store" in page["Cache-Control"]
    assert PASSWORD.encode() not in page.content
    assert b"mfa_" not in page.content  # the ephemeral token stays server-side


@pytest.mark.parametrize("surface", SURFACES)
def test_a_right_totp_code_signs_the_browser_in(
    browser: Client, staff_enrolled: Enrolled, clock: Clock, surface: str
) -> None:
    password_step(browser, surface)

    response = code_step(browser, surface, totp(staff_enrolled.secret, clock.now))

    assert response.status_code == 302
    assert response["Location"] == SURFACES[surface][3]
    assert signed_in(browser)
    assert browser.get(SURFACES[surface][2]).status_code == 200


@pytest.mark.parametrize("surface", SURFACES)
def test_a_recovery_code_signs_the_browser_in_once(
    browser: Client, staff_enrolled: Enrolled, surface: str
) -> None:
    code = staff_enrolled.recovery_codes[0]
    password_step(browser, surface)

    assert code_step(browser, surface, code).status_code == 302
    assert signed_in(browser)

    again = Client(enforce_csrf_checks=True)
    password_step(again, surface)
    assert INCORRECT_CODE in code_step(again, surface, code).content.decode()
    assert not signed_in(again)


@pytest.mark.parametrize("surface", SURFACES)
def test_a_replayed_totp_code_is_refused(
    browser: Client, staff_enrolled: Enrolled, clock: Clock, surface: str
) -> None:
    code = totp(staff_enrolled.secret, clock.now)
    password_step(browser, surface)
    assert code_step(browser, surface, code).status_code == 302

    replay = Client(enforce_csrf_checks=True)
    password_step(replay, surface)
    response = code_step(replay, surface, code)

    assert response.status_code == 200
    assert INCORRECT_CODE in response.content.decode()
    assert not signed_in(replay)


@pytest.mark.parametrize("surface", SURFACES)
def test_wrong_codes_are_limited_like_passwords(
    browser: Client, staff_enrolled: Enrolled, clock: Clock, surface: str
) -> None:
    password_step(browser, surface)

    wrong = [code_step(browser, surface, "000000") for _ in range(5)]
    locked = code_step(browser, surface, totp(staff_enrolled.secret, clock.now))

    assert [r.status_code for r in wrong] == [200] * 5
    assert all(INCORRECT_CODE in r.content.decode() for r in wrong)
    assert locked.status_code == 429
    assert not signed_in(browser)


@pytest.mark.parametrize("surface", SURFACES)
def test_an_expired_sign_in_goes_back_to_the_login_page_with_a_message(
    browser: Client, staff_enrolled: Enrolled, clock: Clock, surface: str
) -> None:
    password_step(browser, surface)
    clock.shift(timedelta(minutes=5, seconds=1))

    response = code_step(browser, surface, totp(staff_enrolled.secret, clock.now))

    assert response.status_code == 302
    assert response["Location"].startswith(SURFACES[surface][0])
    assert not signed_in(browser)
    assert BAD_EPHEMERAL in browser.get(response["Location"]).content.decode()
    # The step is over: the code page sends the browser back to the password page.
    assert browser.get(SURFACES[surface][1])["Location"] == SURFACES[surface][0]


@pytest.mark.parametrize("surface", SURFACES)
def test_the_code_page_without_a_password_step_sends_back_to_the_login_page(
    browser: Client, db: None, surface: str
) -> None:
    response = browser.post(SURFACES[surface][1], {"code": "123456"})

    assert response.status_code in (302, 403)
    get = browser.get(SURFACES[surface][1])
    assert get.status_code == 302
    assert get["Location"] == SURFACES[surface][0]


@pytest.mark.parametrize("surface", SURFACES)
def test_the_code_page_needs_the_csrf_token(
    browser: Client, staff_enrolled: Enrolled, clock: Clock, surface: str
) -> None:
    password_step(browser, surface)

    code = totp(staff_enrolled.secret, clock.now)

    response = browser.post(SURFACES[surface][1], {"code": code})

    assert response.status_code == 403
    assert not signed_in(browser)
    # The same code, with the form's token, is accepted: the refusal was the CSRF check's.
    assert code_step(browser, surface, code).status_code == 302
    assert signed_in(browser)


@pytest.mark.parametrize("surface", SURFACES)
def test_a_safe_next_is_followed_after_the_code(
    browser: Client, staff_enrolled: Enrolled, clock: Clock, surface: str
) -> None:
    password_step(browser, surface, next="/api/v1/posts/?page=2")

    response = code_step(browser, surface, totp(staff_enrolled.secret, clock.now))

    assert response["Location"] == "/api/v1/posts/?page=2"


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_an_open_redirect_next_is_refused(
    browser: Client, staff_enrolled: Enrolled, clock: Clock, surface: str, target: str
) -> None:
    password_step(browser, surface, next=target)

    response = code_step(browser, surface, totp(staff_enrolled.secret, clock.now))

    assert response.status_code == 302
    assert response["Location"] == SURFACES[surface][3]
    assert signed_in(browser)


@pytest.mark.parametrize("surface", SURFACES)
def test_a_huge_or_odd_code_is_a_form_error(
    browser: Client, staff_enrolled: Enrolled, surface: str
) -> None:
    password_step(browser, surface)

    for code in ["x" * 10_000, "", "١٢٣٤٥٦"]:
        response = code_step(browser, surface, code)
        assert response.status_code == 200
        assert not signed_in(browser)
