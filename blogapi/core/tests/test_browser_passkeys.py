"""Real Chromium with a virtual authenticator (Chrome DevTools Protocol): a passkey registered
through the API and used to sign in, alone and as the second step (over the API, and through the
"Use a passkey" button of the browsable API's and the admin's code pages); no hardware involved."""

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, CDPSession, Page, expect, sync_playwright

from blogapi.core.tests import test_browser
from blogapi.core.tests.processes import (
    AppServer,
    SmtpPeer,
    manage,
    register,
    require_tools,
    services,
    stop_quietly,
    unique_name,
)
from blogapi.core.tests.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    assert_clean,
    run,
    shot,
    watch,
)

pytestmark = pytest.mark.system
__all__ = ["shot"]  # a fixture, used by name

_required_tools = require_tools(
    [] if CHROMIUM else ["Chromium"],
    "install Chromium with `apt-get install chromium` (scripts/install-chromium.sh)",
)

PASSWORD = "correct horse battery staple"
API = "/api/v1/dj-rest-auth/"

# The browser's side of each ceremony, as a front-end would write it: options from the API,
# navigator.credentials.create()/get() (answered by the virtual authenticator), toJSON() back.
REGISTER_JS = """async ({key}) => {
  const call = (path, body) => fetch('/api/v1/dj-rest-auth/' + path, {
    method: 'POST', body: JSON.stringify(body),
    headers: {'Content-Type': 'application/json', 'Authorization': 'Token ' + key}});
  const begun = await (await call('mfa/webauthn/register/begin/', {passwordless: true})).json();
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(
    begun.creation_options.publicKey);
  const credential = await navigator.credentials.create({publicKey});
  const answer = await call('mfa/webauthn/register/', {
    registration_token: begun.registration_token, credential: credential.toJSON(),
    name: 'Virtual authenticator'});
  return {status: answer.status, body: await answer.json()};
}"""

PASSWORDLESS_JS = """async () => {
  const call = (path, body) => fetch('/api/v1/dj-rest-auth/' + path, {
    method: 'POST', body: JSON.stringify(body), headers: {'Content-Type': 'application/json'}});
  const begun = await (await call('mfa/webauthn/login/begin/', {})).json();
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(
    begun.request_options.publicKey);
  const credential = await navigator.credentials.get({publicKey});
  const answer = await call('mfa/webauthn/login/', {
    login_token: begun.login_token, credential: credential.toJSON(), device: 'Chromium'});
  return {status: answer.status, body: await answer.json()};
}"""

SECOND_STEP_JS = """async ({ephemeral_token}) => {
  const call = (path, body) => fetch('/api/v1/dj-rest-auth/' + path, {
    method: 'POST', body: JSON.stringify(body), headers: {'Content-Type': 'application/json'}});
  const begun = await (await call('mfa/webauthn/authenticate/', {ephemeral_token})).json();
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(
    begun.request_options.publicKey);
  const credential = await navigator.credentials.get({publicKey});
  const answer = await call('mfa/verify/', {ephemeral_token, credential: credential.toJSON()});
  return {status: answer.status, body: await answer.json()};
}"""


@dataclass
class Site:
    """gunicorn reached as http://localhost:<port> (WebAuthn refuses IP addresses as RP ID)."""

    url: str
    api_url: str
    smtp: SmtpPeer
    env: dict[str, str]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("browser-passkeys")
    with services(os.environ.get("HOME", str(root))) as running:
        # The code pages' passkey script is a static file, served as `make serve` serves it.
        run(running.env, "collectstatic", "--noinput", "--no-post-process")
        manage(running.env, "migrate", "--noinput")
        server = AppServer(running.env, root / "gunicorn.log")
        origin = f"http://localhost:{server.port}"
        server.env = {
            **running.env,
            "SITE_URL": origin,
            "AUTH_WEBAUTHN_RP_ID": "localhost",
            "AUTH_WEBAUTHN_ORIGINS": origin,
        }
        try:
            server.start()
            yield Site(origin, server.url, running.smtp, running.env)
        finally:
            stop_quietly(server.stop)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000
        )
        yield chromium
        chromium.close()


@dataclass
class Browsing:
    """A page and the virtual authenticator attached to it (through its CDP session)."""

    page: Page
    cdp: CDPSession
    authenticator_id: str


@pytest.fixture
def browsing(site: Site, browser: Browser) -> Iterator[Browsing]:
    """A fresh profile on one of the site's pages, with a virtual platform authenticator."""
    context = browser.new_context(base_url=site.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto("/api/v1/")
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    yield Browsing(page, cdp, added["authenticatorId"])
    context.close()


@pytest.fixture
def page(browsing: Browsing) -> Page:
    return browsing.page


def api(site: Site, path: str, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"Authorization": f"Token {key}"} if key else {}
    return requests.post(f"{site.api_url}{API}{path}", json=body, headers=headers, timeout=30)


def confirmed_user(site: Site) -> tuple[str, str]:
    """A new account with its address confirmed, reauthenticated: (username, key)."""
    name = unique_name("passkey")
    key = register(site.api_url, name, PASSWORD)
    mailed = re.search(
        r"/account-confirm-email/([^/\s]+)/", site.smtp.body_to(f"{name}@example.com")
    )
    assert mailed, "no confirmation link mailed"
    assert api(site, "registration/verify-email/", {"key": mailed[1]}).status_code == 200
    assert api(site, "reauthenticate/", {"password": PASSWORD}, key).status_code == 200
    return name, key


def signed_in_as(site: Site, key: str) -> str:
    response = requests.get(
        f"{site.api_url}{API}user/", headers={"Authorization": f"Token {key}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return str(response.json()["username"])


def test_a_passkey_registered_in_the_browser_signs_in_alone_and_as_second_step(
    site: Site, page: Page
) -> None:
    name, key = confirmed_user(site)

    registered = page.evaluate(REGISTER_JS, {"key": key})

    assert registered["status"] == 201, registered
    assert registered["body"]["passkey"]["passwordless"] is True
    assert len(registered["body"]["recovery_codes"]) == 10

    passwordless = page.evaluate(PASSWORDLESS_JS)

    assert passwordless["status"] == 200, passwordless
    assert signed_in_as(site, passwordless["body"]["key"]) == name

    login = api(site, "login/", {"username": name, "password": PASSWORD}).json()
    assert login["mfa_required"] is True
    assert "webauthn" in login["methods"]

    second = page.evaluate(SECOND_STEP_JS, {"ephemeral_token": login["ephemeral_token"]})

    assert second["status"] == 200, second
    assert signed_in_as(site, second["body"]["key"]) == name


def password_step(page: Page, login_url: str, name: str) -> None:
    page.goto(login_url)
    page.fill("#id_username", name)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_passkey_only_staff_member_signs_in_with_the_passkey_button(
    site: Site, page: Page, shot: Callable[[str], None]
) -> None:
    """The admin's and the browsable API's code pages: password, then "Use a passkey"."""
    traffic = watch(page, test_browser.Site(site.url, site.smtp))
    name, key = confirmed_user(site)
    registered = page.evaluate(REGISTER_JS, {"key": key})
    assert registered["status"] == 201, registered
    manage(
        site.env,
        "shell",
        "-c",
        "from blogapi.accounts.models import User; "
        f"User.objects.filter(username='{name}').update(is_staff=True, is_superuser=True)",
    )

    password_step(page, "/admin/", name)

    expect(page).to_have_url(f"{site.url}/admin/login/code/")
    expect(page.get_by_text("Recovery code:")).to_be_visible()  # no authenticator app
    shot("admin-code-page")
    page.get_by_role("button", name="Use a passkey").click()

    expect(page).to_have_url(f"{site.url}/admin/")
    expect(page.locator("#user-tools")).to_contain_text(name)
    expect(page.get_by_role("heading", level=1)).to_have_text("Site administration")
    shot("admin-index")
    assert_clean(page, traffic)

    page.context.clear_cookies()
    password_step(page, "/api-auth/login/?next=/api/v1/dj-rest-auth/user/", name)

    expect(page).to_have_url(f"{site.url}/api-auth/login/code/")
    shot("browsable-api-code-page")
    page.get_by_role("button", name="Use a passkey").click()

    expect(page).to_have_url(f"{site.url}/api/v1/dj-rest-auth/user/")
    expect(page.locator(".navbar .dropdown-toggle")).to_have_text(name)
    assert_clean(page, traffic)


def test_a_refused_passkey_is_an_error_on_the_code_page_and_a_retry_signs_in(
    site: Site, browsing: Browsing, shot: Callable[[str], None]
) -> None:
    """A bad signature (the authenticator told to forge one): the server's refusal shows on the
    form, nobody is signed in, and the button works again with a sound authenticator."""
    page = browsing.page
    traffic = watch(page, test_browser.Site(site.url, site.smtp))
    name, key = confirmed_user(site)
    assert page.evaluate(REGISTER_JS, {"key": key})["status"] == 201
    password_step(page, "/api-auth/login/", name)
    expect(page).to_have_url(f"{site.url}/api-auth/login/code/")
    overrides = {"authenticatorId": browsing.authenticator_id}

    browsing.cdp.send("WebAuthn.setResponseOverrideBits", {**overrides, "isBogusSignature": True})
    page.get_by_role("button", name="Use a passkey").click()

    expect(page.locator("#passkey-error .text-error")).to_have_text("Invalid signature.")
    shot("refused-signature")
    expect(page).to_have_url(f"{site.url}/api-auth/login/code/")
    page.goto("/api/v1/")
    expect(page.locator(".navbar .dropdown-toggle")).to_have_count(0)

    browsing.cdp.send("WebAuthn.setResponseOverrideBits", {**overrides, "isBogusSignature": False})
    page.goto("/api-auth/login/code/")  # the sign-in still waits for its second step
    page.get_by_role("button", name="Use a passkey").click()

    expect(page).to_have_url(f"{site.url}/api/v1/")
    expect(page.locator(".navbar .dropdown-toggle")).to_have_text(name)
    assert_clean(page, traffic)
