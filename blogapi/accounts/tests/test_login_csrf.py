"""Login CSRF: only a CSRF-checked HTML form may sign a browser in; JSON logins are unchanged."""

import re
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.test import Client

from blogapi.accounts.models import DeviceToken, User
from conftest import PASSWORD

LOGIN = "/api/v1/dj-rest-auth/login/"
REGISTER = "/api/v1/dj-rest-auth/registration/"
CSRF = "/api/v1/dj-rest-auth/csrf/"
ME = "/api/v1/dj-rest-auth/user/"
APP = "https://app.example.com"
FOREIGN = "https://evil.example"

FORMS = {
    LOGIN: {"username": "alice", "password": PASSWORD},
    REGISTER: {
        "username": "carol",
        "email": "carol@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
    },
}
SUCCESS = {LOGIN: 200, REGISTER: 201}


@pytest.fixture(autouse=True)
def _front_end_origin(settings: Any) -> None:
    settings.CORS_ALLOWED_ORIGINS = [APP]
    settings.CSRF_TRUSTED_ORIGINS = [APP]


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)


def form_post(client: Client, url: str, data: dict[str, str], encoding: str, **headers: str) -> Any:
    """POST `data` as a browser form would: url-encoded or multipart."""
    if encoding == "urlencoded":
        return client.post(
            url, urlencode(data), content_type="application/x-www-form-urlencoded", headers=headers
        )
    return client.post(url, data, headers=headers)  # the test client's default: multipart


def token_from_the_browsable_api(client: Client, url: str) -> str:
    """The CSRF token of the browsable API's HTML form on `url` (its page also sets the cookie)."""
    page = client.get(url, HTTP_ACCEPT="text/html")
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert match, "no CSRF token in the page"
    return match.group(1).decode()


def signed_in_sessions() -> int:
    return sum(SESSION_KEY in s.get_decoded() for s in Session.objects.all())


def nothing_was_issued() -> bool:
    return (
        signed_in_sessions() == 0
        and not DeviceToken.objects.exists()
        and not User.objects.filter(username="carol").exists()
    )


ENCODINGS = ["urlencoded", "multipart"]
URLS = [LOGIN, REGISTER]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("url", URLS)
def test_a_form_from_another_origin_is_refused_even_with_a_valid_token(
    browser: Client, alice: User, url: str, encoding: str
) -> None:
    token = token_from_the_browsable_api(browser, url)

    response = form_post(
        browser, url, {**FORMS[url], "csrfmiddlewaretoken": token}, encoding, Origin=FOREIGN
    )

    assert response.status_code == 403
    assert response.json()["detail"].startswith("CSRF Failed: Origin checking failed")
    assert nothing_was_issued()
    assert browser.get(ME).status_code == 401


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("url", URLS)
def test_a_form_from_another_origin_without_a_token_is_refused(
    browser: Client, alice: User, url: str, encoding: str
) -> None:
    response = form_post(browser, url, FORMS[url], encoding, Origin=FOREIGN)

    assert response.status_code == 403
    assert "CSRF Failed" in response.json()["detail"]
    assert nothing_was_issued()


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("url", URLS)
def test_a_form_without_origin_or_token_is_refused(
    browser: Client, alice: User, url: str, encoding: str
) -> None:
    response = form_post(browser, url, FORMS[url], encoding)

    assert response.status_code == 403
    assert response.json() == {"detail": "CSRF Failed: CSRF cookie not set."}
    assert nothing_was_issued()


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("url", URLS)
def test_a_form_with_the_cookie_but_no_token_is_refused(
    browser: Client, alice: User, url: str, encoding: str
) -> None:
    token_from_the_browsable_api(browser, url)  # the cookie is set, the form does not echo it

    response = form_post(browser, url, FORMS[url], encoding, Origin="http://testserver")

    assert response.status_code == 403
    assert "CSRF token missing" in response.json()["detail"]
    assert nothing_was_issued()


@pytest.mark.parametrize("origin", [None, "http://testserver"])
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("url", URLS)
def test_the_browsable_api_form_with_its_token_signs_the_browser_in(
    browser: Client, alice: User, url: str, encoding: str, origin: str | None
) -> None:
    token = token_from_the_browsable_api(browser, url)
    headers = {"Origin": origin} if origin else {}

    response = form_post(
        browser, url, {**FORMS[url], "csrfmiddlewaretoken": token}, encoding, **headers
    )

    assert response.status_code == SUCCESS[url], response.content
    assert response.json()["key"]
    assert signed_in_sessions() == 1
    assert browser.get(ME).json()["username"] == FORMS[url]["username"]


@pytest.mark.parametrize("url", URLS)
def test_a_trusted_front_end_signs_in_with_the_token_from_the_csrf_endpoint(
    browser: Client, alice: User, url: str
) -> None:
    issued = browser.get(CSRF, headers={"Origin": APP})
    assert issued.status_code == 200
    assert issued["Access-Control-Allow-Origin"] == APP  # the front-end may read the token
    assert "no-store" in issued["Cache-Control"]
    token = issued.json()["csrf_token"]

    response = form_post(
        browser, url, FORMS[url], "urlencoded", Origin=APP, **{"X-CSRFToken": token}
    )

    assert response.status_code == SUCCESS[url], response.content
    assert browser.get(ME, headers={"Origin": APP}).json()["username"] == FORMS[url]["username"]
    # Login rotates the token: the front-end fetches the new one for its next unsafe request.
    rotated = browser.get(CSRF, headers={"Origin": APP}).json()["csrf_token"]
    written = browser.post(
        "/api/v1/",
        {"title": "From the app", "body": "Session and CSRF header"},
        content_type="application/json",
        headers={"Origin": APP, "X-CSRFToken": rotated},
    )
    assert written.status_code == 201, written.content


def test_another_origin_gets_no_cors_headers_on_the_csrf_endpoint(
    browser: Client, db: None
) -> None:
    response = browser.get(CSRF, headers={"Origin": FOREIGN})

    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response  # the browser hides the token from it


@pytest.mark.parametrize("origin", [APP, FOREIGN, None])
def test_a_json_login_needs_no_csrf_token_and_opens_no_session(
    browser: Client, alice: User, origin: str | None
) -> None:
    headers = {"Origin": origin} if origin else {}

    response = browser.post(LOGIN, FORMS[LOGIN], content_type="application/json", headers=headers)

    assert response.status_code == 200, response.content
    assert response.json()["key"].startswith("blogapi_")
    assert response.get("Access-Control-Allow-Origin") == (APP if origin == APP else None)
    assert "sessionid" not in browser.cookies
    assert signed_in_sessions() == 0
    assert browser.get(ME).status_code == 401


@pytest.mark.parametrize("origin", [APP, FOREIGN, None])
def test_a_json_registration_needs_no_csrf_token_and_opens_no_session(
    browser: Client, db: None, origin: str | None
) -> None:
    headers = {"Origin": origin} if origin else {}

    response = browser.post(
        REGISTER, FORMS[REGISTER], content_type="application/json", headers=headers
    )

    assert response.status_code == 201, response.content
    assert response.json()["key"].startswith("blogapi_")
    assert signed_in_sessions() == 0
    assert browser.get(ME).status_code == 401


def test_a_refused_form_login_checks_no_password(browser: Client, alice: User) -> None:
    # Six refused forms with a wrong password, one more than login_failures allows: none reaches
    # the password check, so none counts towards the lockout and the right password still works.
    for _ in range(6):
        refused = form_post(
            browser, LOGIN, {"username": "alice", "password": "wrong password"}, "urlencoded"
        )
        assert refused.status_code == 403

    allowed = browser.post(LOGIN, FORMS[LOGIN], content_type="application/json")

    assert allowed.status_code == 200, allowed.content
