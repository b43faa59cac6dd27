"""Real Chromium signs in by the JWT cookie flow (AUTH_JWT, AUTH_JWT_COOKIES), as an SPA would."""

import os
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from blogapi.core.tests.processes import (
    AppServer,
    manage,
    registration,
    require_tools,
    services,
    stop_quietly,
    unique_name,
)
from blogapi.core.tests.test_browser import CHROMIUM, TIMEOUT_MS, browser

pytestmark = pytest.mark.system

_required_tools = require_tools([] if CHROMIUM else ["Chromium"], "see test_browser.py")
__all__ = ["browser"]  # the fixture, used by name

PASSWORD = "correct horse battery staple"
REFRESH_PATH = "/api/v1/dj-rest-auth/token/refresh/"


@pytest.fixture(scope="module")
def site_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = os.environ.get("HOME", str(tmp_path_factory.getbasetemp()))
    with services(home) as running:
        env = {
            **running.env,
            "AUTH_JWT": "true",
            "AUTH_JWT_COOKIES": "true",
            "AUTH_JWT_SIGNING_KEY": "browser-test-only-jwt-signing-key-0123456789",
        }
        manage(env, "migrate", "--noinput")
        server = AppServer(env, tmp_path_factory.mktemp("browser-jwt") / "gunicorn.log")
        try:
            server.start()
            yield server.url
        finally:
            stop_quietly(server.stop)


@pytest.fixture
def page(site_url: str, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(base_url=site_url)
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def sign_up(site_url: str) -> str:
    name = unique_name("spa")
    registration(site_url, name, PASSWORD)
    return name


# What a single-page app on this origin runs (README, "How clients should keep credentials").
SPA = """
async ([username, password]) => {
  const csrf = () => (document.cookie.match(/csrftoken=([^;]+)/) || [])[1];
  const call = (path, method = "GET", body, withCsrf = true) => fetch(path, {
    method, credentials: "same-origin",
    headers: {"Content-Type": "application/json", ...(withCsrf ? {"X-CSRFToken": csrf()} : {})},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const login = await call("/api/v1/dj-rest-auth/login/", "POST", {username, password}, false);
  const loginBody = await login.json();
  const me = await call("/api/v1/dj-rest-auth/user/");
  const writeWithout = await call("/api/v1/", "POST", {title: "T", body: "B"}, false);
  const writeWith = await call("/api/v1/", "POST", {title: "T", body: "B"});
  const refreshed = await call("/api/v1/dj-rest-auth/token/refresh/", "POST", {});
  const afterRefresh = await call("/api/v1/dj-rest-auth/user/");
  return {
    login: login.status, loginKeys: Object.keys(loginBody).sort(),
    scriptSees: document.cookie,
    me: me.status, username: (await me.json()).username,
    writeWithout: writeWithout.status, writeWith: writeWith.status,
    refreshed: refreshed.status, refreshedKeys: Object.keys(await refreshed.json()).sort(),
    afterRefresh: afterRefresh.status,
  };
}
"""

LOGOUT = """
async () => {
  const csrf = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1];
  const logout = await fetch("/api/v1/dj-rest-auth/logout/", {
    method: "POST", credentials: "same-origin", headers: {"X-CSRFToken": csrf},
  });
  const me = await fetch("/api/v1/dj-rest-auth/user/", {credentials: "same-origin"});
  return {logout: logout.status, me: me.status};
}
"""


def cookies_by_name(page: Page) -> dict[str, Any]:
    return {cookie["name"]: cookie for cookie in page.context.cookies()}


def test_a_browser_signs_in_writes_refreshes_and_signs_out_with_httponly_cookies(
    page: Page, site_url: str
) -> None:
    username = sign_up(site_url)
    page.goto("/healthz")  # any page of the API's origin, as the SPA's own would be

    seen = page.evaluate(SPA, [username, PASSWORD])
    cookies = cookies_by_name(page)

    assert seen["login"] == 200
    assert seen["loginKeys"] == ["access", "access_expiration", "refresh_expiration", "user"]
    assert "blogapi-access" not in seen["scriptSees"]  # HttpOnly: no script reads them
    assert "blogapi-refresh" not in seen["scriptSees"]
    assert (seen["me"], seen["username"]) == (200, username)
    assert seen["writeWithout"] == 403  # the access cookie needs the CSRF header on writes
    assert seen["writeWith"] == 201
    assert seen["refreshed"] == 200
    assert "refresh" not in seen["refreshedKeys"]
    assert seen["afterRefresh"] == 200
    assert cookies["blogapi-access"]["httpOnly"] is True
    assert cookies["blogapi-access"]["sameSite"] == "Lax"
    assert cookies["blogapi-refresh"]["path"] == REFRESH_PATH
    assert cookies["blogapi-refresh"]["httpOnly"] is True

    signed_out = page.evaluate(LOGOUT)

    assert signed_out == {"logout": 200, "me": 401}
    assert not {"blogapi-access", "blogapi-refresh"} & set(cookies_by_name(page))
