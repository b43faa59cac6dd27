"""Real Chromium (Playwright) through the HTML code step of two-factor sign-in: the browsable API's
and the admin's logins ask for the code after the password, and only a right code signs in."""

import os
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from blogapi.accounts.tests.mfa import totp
from blogapi.core.tests.processes import (
    AppServer,
    register,
    require_tools,
    services,
    stop_quietly,
    unique_name,
)
from blogapi.core.tests.test_browser import (
    CHROMIUM,
    PASSWORD,
    TIMEOUT_MS,
    Site,
    assert_clean,
    browser,
    fill_login_form,
    response_info,
    run,
    shot,
    signed_in_as,
    watch,
)

pytestmark = pytest.mark.system

_required_tools = require_tools([] if CHROMIUM else ["Chromium"], "see test_browser.py")
__all__ = ["browser", "shot"]  # fixtures, used by name

API = "/api/v1/dj-rest-auth/"
PERIOD = 30


@dataclass
class MfaSite(Site):
    """The server and its mail, and the environment for manage.py against its database."""

    env: dict[str, str]


@dataclass
class Enrolled:
    """A user who turned TOTP on: the secret, the recovery codes, the time step already spent."""

    username: str
    secret: str
    recovery_codes: list[str]
    spent_step: int


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MfaSite]:
    """gunicorn on a throwaway PostgreSQL, Redis and SMTP peer (as test_browser.py's site)."""
    home = os.environ.get("HOME", str(tmp_path_factory.getbasetemp()))
    with services(home) as running, ThreadPoolExecutor(max_workers=1) as background:
        env = dict(running.env)
        static = background.submit(run, env, "collectstatic", "--noinput", "--no-post-process")
        run(env, "migrate", "--noinput")
        static.result()
        server = AppServer(env, tmp_path_factory.mktemp("browser-mfa") / "gunicorn.log")
        env["SITE_URL"] = server.url
        try:
            server.start()
            yield MfaSite(server.url, running.smtp, env)
        finally:
            stop_quietly(server.stop)


@pytest.fixture
def page(site: MfaSite, browser: Browser) -> Iterator[Page]:
    """A fresh browser profile (no cookies) per test; every wait bounded."""
    context = browser.new_context(base_url=site.url)
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def step_now() -> int:
    return int(time.time()) // PERIOD


def enroll(site: MfaSite, prefix: str, *, staff: bool = False) -> Enrolled:
    """A new user confirms the mailed address and turns TOTP on over the JSON API."""
    name = unique_name(prefix)
    key = register(site.url, name, PASSWORD)
    mailed = re.search(
        r"/account-confirm-email/([^/\s]+)/", site.smtp.body_to(f"{name}@example.com")
    )
    assert mailed, "no confirmation link mailed"
    confirmed = requests.post(
        f"{site.url}{API}registration/verify-email/", json={"key": mailed[1]}, timeout=30
    )
    assert confirmed.status_code == 200, confirmed.text
    auth = {"Authorization": f"Token {key}"}
    setup = requests.get(f"{site.url}{API}mfa/totp/activate/", headers=auth, timeout=30).json()
    if time.time() % PERIOD > PERIOD - 5:  # not in a period's last seconds: still valid when sent
        time.sleep(PERIOD - time.time() % PERIOD + 0.1)
    step = step_now()
    code = totp_at(setup["secret"], step)
    activated = requests.post(
        f"{site.url}{API}mfa/totp/activate/",
        json={"activation_token": setup["activation_token"], "code": code},
        headers=auth,
        timeout=30,
    )
    assert activated.status_code == 200, activated.text
    if staff:
        run(
            site.env,
            "shell",
            "-c",
            "from blogapi.accounts.models import User; "
            f"User.objects.filter(username='{name}').update(is_staff=True, is_superuser=True)",
        )
    return Enrolled(name, setup["secret"], activated.json()["recovery_codes"], step)


def totp_at(secret: str, step: int) -> str:
    return totp(secret, datetime.fromtimestamp(step * PERIOD, tz=UTC))


def fresh_code(enrolled: Enrolled) -> str:
    """A code valid now that the activation did not spend (waits for the next period if need be),
    and not in a period's last seconds, so that it is still valid when the server checks it."""
    while step_now() <= enrolled.spent_step or time.time() % PERIOD > PERIOD - 5:
        time.sleep(PERIOD - time.time() % PERIOD + 0.1)
    return totp_at(enrolled.secret, step_now())


def wrong_code(enrolled: Enrolled) -> str:
    """The code of an hour from now: six digits, never valid in this period."""
    return totp(enrolled.secret, datetime.now(UTC) + timedelta(hours=1))


def test_the_browsable_api_login_asks_for_the_code_and_only_a_right_one_signs_in(
    site: MfaSite, page: Page, shot: Callable[[str], None]
) -> None:
    traffic = watch(page, site)
    enrolled = enroll(site, "totp")
    fill_login_form(page, enrolled.username, PASSWORD).click()

    expect(page).to_have_url(f"{site.url}/api-auth/login/code/")
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    shot("code-page")

    page.fill("#id_code", wrong_code(enrolled))
    page.get_by_role("button", name="Verify").click()

    expect(page.locator(".text-error")).to_have_text("Incorrect code.")
    shot("wrong-code")
    page.goto(f"{API}user/")
    expect(response_info(page)).to_contain_text("HTTP 401 Unauthorized")
    expect(signed_in_as(page)).to_have_count(0)
    shot("not-signed-in")

    page.goto("/api-auth/login/code/")  # the pending sign-in is still there
    page.fill("#id_code", fresh_code(enrolled))
    page.get_by_role("button", name="Verify").click()

    expect(page).to_have_url(f"{site.url}/api/v1/")
    expect(signed_in_as(page)).to_have_text(enrolled.username)
    page.goto(f"{API}user/")
    expect(response_info(page)).to_contain_text("HTTP 200 OK")
    expect(response_info(page)).to_contain_text(f'"username": "{enrolled.username}"')
    shot("signed-in")
    assert_clean(page, traffic)


def test_the_admin_login_asks_a_staff_member_for_the_code(
    site: MfaSite, page: Page, shot: Callable[[str], None]
) -> None:
    traffic = watch(page, site)
    enrolled = enroll(site, "staff", staff=True)
    page.goto("/admin/")
    page.fill("#id_username", enrolled.username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(f"{site.url}/admin/login/code/")
    expect(page.locator("#id_code")).to_be_visible()
    shot("admin-code-page")

    page.fill("#id_code", wrong_code(enrolled))
    page.get_by_role("button", name="Verify").click()

    expect(page.locator(".errornote")).to_have_text("Incorrect code.")
    shot("admin-wrong-code")
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))
    expect(page.locator("#user-tools")).to_have_count(0)

    page.goto("/admin/login/code/")
    page.fill("#id_code", fresh_code(enrolled))
    page.get_by_role("button", name="Verify").click()

    expect(page).to_have_url(f"{site.url}/admin/")
    expect(page.locator("#user-tools")).to_contain_text(enrolled.username)
    expect(page.get_by_role("heading", level=1)).to_have_text("Site administration")
    shot("admin-index")
    assert_clean(page, traffic)


def test_a_recovery_code_signs_the_browser_in_once(
    site: MfaSite, page: Page, shot: Callable[[str], None]
) -> None:
    traffic = watch(page, site)
    enrolled = enroll(site, "recovery")
    code = enrolled.recovery_codes[0]
    fill_login_form(page, enrolled.username, PASSWORD).click()
    page.fill("#id_code", code)
    shot("recovery-code")
    page.get_by_role("button", name="Verify").click()

    expect(page).to_have_url(f"{site.url}/api/v1/")
    expect(signed_in_as(page)).to_have_text(enrolled.username)
    shot("signed-in-with-recovery-code")
    signed_in_as(page).click()
    page.get_by_role("button", name="Log out").click()
    expect(signed_in_as(page)).to_have_count(0)

    fill_login_form(page, enrolled.username, PASSWORD).click()
    page.fill("#id_code", code)
    page.get_by_role("button", name="Verify").click()

    expect(page.locator(".text-error")).to_have_text("Incorrect code.")
    shot("recovery-code-refused-the-second-time")
    page.goto("/api/v1/")
    expect(signed_in_as(page)).to_have_count(0)
    page.goto("/api-auth/login/code/")
    page.fill("#id_code", enrolled.recovery_codes[1])  # the next code still works
    page.get_by_role("button", name="Verify").click()
    expect(signed_in_as(page)).to_have_text(enrolled.username)
    assert_clean(page, traffic)
