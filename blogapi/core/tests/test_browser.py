"""Real Chromium (Playwright) through the browsable API, the mailed-link pages, the admin and the
API docs pages (with the Content-Security-Policy in force)."""

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from blogapi.core.tests.processes import (
    REPO,
    AppServer,
    SmtpPeer,
    manage,
    register,
    require_tools,
    services,
    stop_quietly,
    unique_name,
)

pytestmark = pytest.mark.system

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new passphrase"
ADMIN, ADMIN_PASSWORD = "root", "admin passphrase for browser tests"
TIMEOUT_MS = 10_000
SCREENSHOTS = REPO / "test-results" / "browser"
# Without the networking flags Chromium phones home, which a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
CHROMIUM = "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else shutil.which("chromium")

_required_tools = require_tools(
    [] if CHROMIUM else ["Chromium"],
    "install Chromium with `apt-get install chromium` (scripts/install-chromium.sh), never "
    "`playwright install`",
)


@dataclass
class Site:
    url: str
    smtp: SmtpPeer

    def register(self, prefix: str) -> str:
        """A new account, signed up through the JSON API; returns its username."""
        name = unique_name(prefix)
        register(self.url, name, PASSWORD)
        return name


def run(env: dict[str, str], *args: str) -> None:
    """manage.py with `args`; a failure shows the command's own error output."""
    try:
        manage(env, *args)
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{error.stderr.decode()}") from error


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """gunicorn on a throwaway PostgreSQL cluster, mailing to an aiosmtpd peer; one superuser."""
    home = os.environ.get("HOME", str(tmp_path_factory.getbasetemp()))
    with services(home) as running, ThreadPoolExecutor(max_workers=1) as background:
        env = dict(running.env)
        # The browsable API's CSS and JavaScript (the navbar's menu), served as `make serve` does.
        static = background.submit(run, env, "collectstatic", "--noinput", "--no-post-process")
        run(env, "migrate", "--noinput")
        static.result()
        server = AppServer(env, tmp_path_factory.mktemp("browser") / "gunicorn.log")
        env["SITE_URL"] = server.url  # the mailed links must reach this server
        admin = background.submit(
            run,
            {**env, "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD},
            *(
                "createsuperuser",
                "--noinput",
                "--username",
                ADMIN,
                "--email",
                f"{ADMIN}@example.com",
            ),
        )
        try:
            server.start()
            admin.result()
            yield Site(server.url, running.smtp)
        finally:
            stop_quietly(server.stop)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # No Django ORM in this module: Playwright's sync API runs an event loop, which Django's
    # async-safety check refuses (SynchronousOnlyOperation). The server does the database work.
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(site: Site, browser: Browser) -> Iterator[Page]:
    """A fresh browser profile (no cookies) per test; every wait bounded."""
    context = browser.new_context(base_url=site.url)
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture
def shot(page: Page, request: pytest.FixtureRequest) -> Callable[[str], None]:
    """shot("step-name") saves test-results/browser/<test>/NN-step-name.png."""
    folder = SCREENSHOTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    print(f"screenshots: {folder}")
    count = [0]

    def save(step: str) -> None:
        count[0] += 1
        page.screenshot(path=folder / f"{count[0]:02d}-{step}.png", full_page=True)

    return save


def response_info(page: Page) -> Locator:
    """The browsable API's answer: status line, headers and body."""
    return page.locator(".response-info")


def signed_in_as(page: Page) -> Locator:
    """The browsable API's navbar user menu (only signed-in pages have one)."""
    return page.locator(".navbar .dropdown-toggle")


def heading(page: Page) -> Locator:
    """The title of our mailed-link pages."""
    return page.get_by_role("heading", level=2)


def fill_html_form(page: Page, fields: dict[str, str]) -> Locator:
    """Fill the browsable API's "HTML form" tab; returns its POST button."""
    form = page.locator("#post-object-form form")
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    return form.get_by_role("button", name="POST")


def fill_login_form(page: Page, username: str, password: str) -> Locator:
    """The browsable API's login page, filled; returns its submit button."""
    page.goto("/api-auth/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    return page.get_by_role("button", name="Log in")


# Playwright's init scripts are not subject to the page's CSP: this records every violation.
RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@dataclass
class Traffic:
    """What a page did: requests to other origins and CSP violations (events and console)."""

    foreign_requests: list[str]
    console_violations: list[str]


def watch(page: Page, site: Site) -> Traffic:
    traffic = Traffic([], [])
    page.add_init_script(RECORD_CSP_VIOLATIONS)

    def on_request(request: Any) -> None:
        if not request.url.startswith((f"{site.url}/", "data:", "blob:")):
            traffic.foreign_requests.append(request.url)

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            traffic.console_violations.append(message.text)

    page.on("request", on_request)
    page.on("console", on_console)
    return traffic


def assert_clean(page: Page, traffic: Traffic, blocked_image: str | None = None) -> None:
    """No CSP violation and no request to another origin, but for `blocked_image`.

    The console holds every page's violations; window.cspViolations only the current page's.
    """
    expected = [blocked_image] if blocked_image else []
    assert page.evaluate("window.cspViolations") == [f"img-src {url}" for url in expected]
    assert len(traffic.console_violations) == len(expected), traffic.console_violations
    assert traffic.foreign_requests == expected


def test_swagger_ui_renders_the_operations_under_the_content_security_policy(
    site: Site, page: Page, shot: Callable[[str], None]
) -> None:
    traffic = watch(page, site)

    response = page.goto("/api/schema/swagger-ui/")

    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    login = page.locator('.opblock-summary-path[data-path="/api/v1/dj-rest-auth/login/"]')
    expect(login).to_be_visible()
    assert page.locator(".opblock").count() > 20
    shot("operations")

    page.locator("#operations-health-healthz_retrieve .opblock-summary").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()

    result = page.locator("#operations-health-healthz_retrieve .live-responses-table tbody")
    expect(result.locator(".response-col_status")).to_have_text("200")
    shot("healthz-executed")
    assert_clean(page, traffic)


def test_redoc_renders_the_operations_under_the_content_security_policy(
    site: Site, page: Page, shot: Callable[[str], None]
) -> None:
    traffic = watch(page, site)

    response = page.goto("/api/schema/redoc/")

    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.get_by_role("heading", level=1)).to_contain_text("blogapi")
    expect(page.get_by_text("/api/v1/dj-rest-auth/login/").first).to_be_attached()
    page.get_by_placeholder("Search...").fill("logout")  # Redoc's search runs in a worker
    expect(page.locator('[role="search"] li').first).to_be_visible()
    shot("operations")
    # Redoc's "API docs by Redocly" link shows a logo hard-coded to its CDN (no option turns it
    # off): the policy blocks that image, the link hides it, and nothing else is refused.
    assert_clean(page, traffic, blocked_image="https://cdn.redoc.ly/redoc/logo-mini.svg")


def test_sign_up_in_the_browsable_api_and_confirm_the_mailed_link(
    site: Site, page: Page, shot: Callable[[str], None]
) -> None:
    traffic = watch(page, site)
    name = unique_name("signup")
    email = f"{name}@example.com"
    page.goto("/api/v1/dj-rest-auth/registration/")
    expect(response_info(page)).to_contain_text("HTTP 405 Method Not Allowed")
    post = fill_html_form(
        page, {"username": name, "email": email, "password1": PASSWORD, "password2": PASSWORD}
    )
    shot("signup-form")

    post.click()

    expect(response_info(page)).to_contain_text("HTTP 201 Created")
    expect(response_info(page)).to_contain_text('"key": "blogapi_')
    shot("signed-up")
    page.goto("/api/v1/")
    expect(signed_in_as(page)).to_have_text(name)  # the HTML form also signs the browser in
    expect(response_info(page)).to_contain_text("HTTP 200 OK")
    shot("signed-in")

    link = site.smtp.link_to(email, r"http://\S+/account-confirm-email/[^/\s]+/")
    assert link.startswith(f"{site.url}/api/v1/dj-rest-auth/registration/"), link
    page.goto(link)
    expect(heading(page)).to_have_text("Confirm your e-mail address")
    shot("confirmation-page")
    page.get_by_role("button", name="Confirm").click()

    expect(heading(page)).to_have_text("E-mail address confirmed")
    expect(page.locator("#result")).to_contain_text("You can now log in.")
    shot("confirmed")
    assert_clean(page, traffic)


def test_log_in_write_a_post_and_log_out_in_the_browsable_api(
    site: Site, page: Page, shot: Callable[[str], None]
) -> None:
    traffic = watch(page, site)
    name = site.register("writer")
    title = f"Hello from {name}"
    log_in = fill_login_form(page, name, PASSWORD)
    shot("login-form")

    log_in.click()

    expect(page).to_have_url(f"{site.url}/api/v1/")
    expect(signed_in_as(page)).to_have_text(name)
    shot("logged-in")

    post = fill_html_form(page, {"title": title, "body": "Written in a real browser."})
    shot("post-form")
    post.click()

    expect(response_info(page)).to_contain_text("HTTP 201 Created")
    expect(response_info(page)).to_contain_text(f'"title": "{title}"')
    shot("post-created")
    page.goto("/api/v1/")
    expect(response_info(page)).to_contain_text("HTTP 200 OK")
    expect(response_info(page)).to_contain_text(f'"title": "{title}"')
    shot("post-listed")

    signed_in_as(page).click()
    page.get_by_role("button", name="Log out").click()

    expect(page).to_have_url(f"{site.url}/api/v1/")
    expect(page.locator(".navbar").get_by_role("link", name="Log in")).to_be_visible()
    expect(signed_in_as(page)).to_have_count(0)
    expect(response_info(page)).to_contain_text("HTTP 401 Unauthorized")
    expect(response_info(page)).to_contain_text("Authentication credentials were not provided.")
    shot("logged-out")
    assert_clean(page, traffic)  # the browsable API works under the Content-Security-Policy


def test_reset_a_forgotten_password_from_the_mailed_link(
    site: Site, page: Page, shot: Callable[[str], None]
) -> None:
    traffic = watch(page, site)
    name = site.register("forgetful")
    email = f"{name}@example.com"
    page.goto("/api/v1/dj-rest-auth/password/reset/")
    post = fill_html_form(page, {"email": email})
    shot("reset-form")

    post.click()

    expect(response_info(page)).to_contain_text("HTTP 200 OK")
    expect(response_info(page)).to_contain_text("Password reset e-mail has been sent.")
    shot("reset-requested")

    link = site.smtp.link_to(email, r"http://\S+/password/reset/confirm/[^/\s]+/[^/\s]+/")
    assert link.startswith(f"{site.url}/api/v1/dj-rest-auth/"), link
    page.goto(link)
    expect(heading(page)).to_have_text("Choose a new password")
    page.fill("#new_password1", NEW_PASSWORD)
    page.fill("#new_password2", NEW_PASSWORD)
    shot("new-password-form")
    page.get_by_role("button", name="Set password").click()

    expect(heading(page)).to_have_text("Password changed")
    shot("password-changed")

    page.goto(link)
    page.fill("#new_password1", PASSWORD)
    page.fill("#new_password2", PASSWORD)
    page.get_by_role("button", name="Set password").click()

    expect(heading(page)).to_have_text("This link cannot be used")
    shot("link-used-up")

    fill_login_form(page, name, PASSWORD).click()

    expect(page.locator(".text-error")).to_contain_text("Please enter a correct username")
    expect(signed_in_as(page)).to_have_count(0)
    shot("old-password-refused")

    fill_login_form(page, name, NEW_PASSWORD).click()

    expect(signed_in_as(page)).to_have_text(name)
    shot("logged-in-with-new-password")
    assert_clean(page, traffic)


def test_the_admin_shows_device_tokens_without_their_keys_or_digests(
    site: Site, page: Page, shot: Callable[[str], None]
) -> None:
    traffic = watch(page, site)
    name = site.register("tokenholder")
    label = f"Laptop of {name}"
    login = requests.post(
        f"{site.url}/api/v1/dj-rest-auth/login/",
        json={"username": name, "password": PASSWORD, "device": label},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    key = login.json()["key"]
    forbidden = [key, key.removeprefix("blogapi_"), hashlib.sha256(key.encode()).hexdigest()]

    def assert_no_secret() -> None:
        content = page.content()
        assert not [secret for secret in forbidden if secret in content]

    page.goto("/admin/")
    page.fill("#id_username", ADMIN)
    page.fill("#id_password", ADMIN_PASSWORD)
    shot("admin-login")
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(f"{site.url}/admin/")
    expect(page.locator("#user-tools")).to_contain_text(ADMIN)
    shot("admin-home")

    page.goto(f"/admin/accounts/devicetoken/?q={name}")
    row = page.locator("#result_list tbody tr", has_text=label)
    expect(row).to_have_count(1)
    expect(row.locator(".field-user")).to_have_text(name)
    assert_no_secret()
    shot("token-list")

    row.locator(".field-user a").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("View device token")
    expect(page.locator(".field-label .readonly")).to_have_text(label)
    expect(page.locator(".field-user .readonly")).to_have_text(name)
    assert_no_secret()
    shot("token-page")

    page.locator(".field-user .readonly a").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Change user")
    expect(page.locator("#device_tokens-group")).to_contain_text(label)
    assert_no_secret()
    shot("user-page")
    assert_clean(page, traffic)  # the admin works under the Content-Security-Policy
