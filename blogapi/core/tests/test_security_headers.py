"""Production's cookies, headers and HTTPS rules, no caching of auth responses, and CSRF."""

import ast
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from django.http.response import HttpResponseBase
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from blogapi.accounts.models import DeviceToken, User
from blogapi.core.clients import client_ip
from blogapi.posts.models import Post
from conftest import PASSWORD, REPO, login, settings_in_subprocess

PRODUCTION = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "api.example.com",
    "EMAIL_URL": "smtp+tls://mail.example.com:587",
}
ONE_YEAR = 365 * 24 * 60 * 60
CONFIG_PREFIXES = (
    "DJANGO_",
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_URL",
    "FRONTEND_URL",
    "ACCOUNT_",
    "AUTH_",
    "TRUSTED_PROXY_COUNT",
)


def production_settings(extra: dict[str, str], expression: str) -> Any:
    result = settings_in_subprocess({**PRODUCTION, **extra}, expression)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip())


def deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    """`manage.py check --deploy --fail-level WARNING` in a fresh interpreter with only `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES)}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env={**clean, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- Production settings (fresh interpreter, production env only) -----------------------------


def test_production_defaults_are_https_only_with_strict_cookies() -> None:
    values = production_settings(
        {},
        "settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS, "
        "settings.SECURE_HSTS_INCLUDE_SUBDOMAINS, settings.SESSION_COOKIE_SECURE, "
        "settings.CSRF_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY, "
        "settings.SESSION_COOKIE_SAMESITE, settings.CSRF_COOKIE_SAMESITE, "
        "settings.SECURE_CONTENT_TYPE_NOSNIFF, settings.X_FRAME_OPTIONS, "
        "settings.SECURE_REFERRER_POLICY, settings.SECURE_CROSS_ORIGIN_OPENER_POLICY",
    )

    assert values == (
        True,
        ONE_YEAR,
        True,
        True,
        True,
        True,
        "Lax",
        "Lax",
        True,
        "DENY",
        "same-origin",
        "same-origin",
    )


def test_production_trusts_no_proxy_by_default() -> None:
    values = production_settings(
        {}, "settings.SECURE_PROXY_SSL_HEADER, settings.ALLAUTH_TRUSTED_PROXY_COUNT"
    )

    assert values == (None, 0)


def test_a_trusted_proxy_count_trusts_its_forwarded_proto_and_client_ip() -> None:
    values = production_settings(
        {"TRUSTED_PROXY_COUNT": "1"},
        "settings.SECURE_PROXY_SSL_HEADER, settings.ALLAUTH_TRUSTED_PROXY_COUNT",
    )

    assert values == (("HTTP_X_FORWARDED_PROTO", "https"), 1)


@pytest.mark.parametrize(
    ("knob", "expression", "expected"),
    [
        ("DJANGO_SECURE_SSL_REDIRECT", "settings.SECURE_SSL_REDIRECT", False),
        ("DJANGO_HSTS_SECONDS", "settings.SECURE_HSTS_SECONDS", 0),
        (
            "DJANGO_SECURE_COOKIES",
            "settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE",
            (False, False),
        ),
    ],
)
def test_each_https_knob_can_be_turned_off_in_production(
    knob: str, expression: str, expected: object
) -> None:
    off = "0" if knob == "DJANGO_HSTS_SECONDS" else "false"

    assert production_settings({knob: off}, expression) == expected


def test_hsts_lifetime_is_configurable() -> None:
    seconds = production_settings({"DJANGO_HSTS_SECONDS": "3600"}, "settings.SECURE_HSTS_SECONDS")

    assert seconds == 3600


def test_development_serves_plain_http() -> None:
    result = settings_in_subprocess(
        {"DJANGO_DEBUG": "true"},
        "settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS, "
        "settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE",
    )

    assert result.returncode == 0, result.stderr
    assert ast.literal_eval(result.stdout.strip()) == (False, 0, False, False)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_HSTS_SECONDS": "-1"}, "DJANGO_HSTS_SECONDS must be a whole number"),
        ({"DJANGO_HSTS_SECONDS": "one year"}, "DJANGO_HSTS_SECONDS must be a whole number"),
        ({"DJANGO_HSTS_SECONDS": "1.5"}, "DJANGO_HSTS_SECONDS must be a whole number"),
        ({"TRUSTED_PROXY_COUNT": "-1"}, "TRUSTED_PROXY_COUNT must be a whole number"),
        ({"TRUSTED_PROXY_COUNT": "two"}, "TRUSTED_PROXY_COUNT must be a whole number"),
        ({"DJANGO_SECURE_SSL_REDIRECT": "maybe"}, "DJANGO_SECURE_SSL_REDIRECT must be true or"),
        ({"DJANGO_SECURE_COOKIES": "ture"}, "DJANGO_SECURE_COOKIES must be true or false"),
    ],
)
def test_production_refuses_nonsense_security_values(env: dict[str, str], message: str) -> None:
    result = settings_in_subprocess({**PRODUCTION, **env})

    assert result.returncode != 0
    assert message in result.stderr


# --- manage.py check --deploy ----------------------------------------------------------------


@pytest.mark.parametrize(
    "knobs",
    [
        {},
        {"TRUSTED_PROXY_COUNT": "2"},
        {"DJANGO_SECURE_SSL_REDIRECT": "false"},
        {"DJANGO_HSTS_SECONDS": "0"},
        {"DJANGO_SECURE_COOKIES": "false"},
        {
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_HSTS_SECONDS": "0",
            "DJANGO_SECURE_COOKIES": "false",
        },
    ],
)
def test_deploy_check_passes_in_production(knobs: dict[str, str]) -> None:
    result = deploy_check({**PRODUCTION, **knobs})

    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr


def test_deploy_check_still_reports_what_is_not_configured() -> None:
    result = deploy_check({**PRODUCTION, "DJANGO_SECRET_KEY": "k" * 50})

    assert result.returncode != 0
    assert "security.W009" in result.stderr


@pytest.mark.parametrize(
    ("knobs", "silenced"),
    [
        ({}, []),
        ({"DJANGO_SECURE_SSL_REDIRECT": "false"}, ["security.W008"]),
        ({"DJANGO_HSTS_SECONDS": "0"}, ["security.W004"]),
        ({"DJANGO_SECURE_COOKIES": "false"}, ["security.W012", "security.W016"]),
    ],
)
def test_a_deploy_warning_is_silenced_only_when_its_knob_is_off(
    knobs: dict[str, str], silenced: list[str]
) -> None:
    checks = production_settings(knobs, "settings.SILENCED_SYSTEM_CHECKS")

    # W021 (HSTS preload) is a standing decision, explained in settings.py.
    assert sorted(set(checks) - {"security.W021"}) == silenced


# --- Headers on responses ---------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/", "/api-auth/login/", "/admin/login/"])
def test_responses_carry_the_security_headers(client: Client, url: str) -> None:
    response = client.get(url)

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


# --- Content-Security-Policy -------------------------------------------------------------------


def policy_of(response: HttpResponseBase) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: sources}."""
    assert "Content-Security-Policy" in response, "no Content-Security-Policy header"
    directives = (part.split() for part in response["Content-Security-Policy"].split(";"))
    return {words[0]: words[1:] for words in directives if words}


def scripts_allowed(policy: dict[str, list[str]]) -> list[str]:
    return policy.get("script-src-elem", policy.get("script-src", policy.get("default-src", [])))


HTML_PAGES: list[tuple[str, str, bool]] = [
    # (path, what it is, needs a signed-in staff user)
    ("/api/v1/", "browsable API, signed out", False),
    ("/api/v1/dj-rest-auth/login/", "browsable API form", False),
    ("/api/v1/", "browsable API, signed in", True),
    ("/api-auth/login/", "browsable API login", False),
    ("/admin/login/", "admin login", False),
    ("/admin/", "admin", True),
    ("/admin/accounts/user/", "admin list", True),
    ("/api/v1/dj-rest-auth/registration/account-confirm-email/some-key/", "our page", False),
    ("/api/v1/dj-rest-auth/password/reset/confirm/MQ/some-token/", "our page", False),
    ("/api/schema/swagger-ui/", "Swagger UI", False),
    ("/api/schema/redoc/", "Redoc", False),
]


@pytest.mark.parametrize(("path", "what", "staff"), HTML_PAGES)
def test_every_html_page_allows_scripts_only_from_its_own_origin(
    client: Client, user_factory: Callable[..., User], path: str, what: str, staff: bool
) -> None:
    if staff:
        client.force_login(user_factory("root", is_staff=True, is_superuser=True))

    response = client.get(path, HTTP_ACCEPT="text/html")

    assert response["Content-Type"].startswith("text/html"), what
    policy = policy_of(response)
    assert scripts_allowed(policy) == ["'self'"], what
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    for directive in ("script-src", "script-src-elem", "default-src", "worker-src"):
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "https:", "http:"} & set(
            policy.get(directive, [])
        ), directive


@pytest.mark.parametrize(("path", "what", "staff"), HTML_PAGES)
def test_no_html_page_needs_an_inline_script(
    client: Client, user_factory: Callable[..., User], path: str, what: str, staff: bool
) -> None:
    # An inline script would be blocked by `script-src 'self'`: the page must not depend on one.
    if staff:
        client.force_login(user_factory("root", is_staff=True, is_superuser=True))

    html = client.get(path, HTTP_ACCEPT="text/html").content.decode()

    tags = re.findall(r"<script\b[^>]*>", html)
    inline = [tag for tag in tags if "src=" not in tag and 'type="application/json"' not in tag]
    assert inline == [], what
    sources = re.findall(r'<script\b[^>]*\bsrc="([^"]*)"', html)
    assert [src for src in sources if not src.startswith("/") or src.startswith("//")] == [], what
    # Event-handler attributes and javascript: URLs are inline scripts too.
    assert re.findall(r"<[^>]*\son[a-z]+\s*=[^>]*>", html) == [], what
    assert "javascript:" not in html.lower(), what


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/"),
        ("post", "/api/v1/dj-rest-auth/login/"),
        ("get", "/healthz"),
        ("get", "/api/v1/no-such-thing/"),
        ("options", "/api/v1/"),
    ],
)
def test_json_answers_carry_the_policy_too(
    api_client: APIClient, db: None, method: str, path: str
) -> None:
    response = getattr(api_client, method)(path)

    assert response["Content-Type"].startswith("application/json")
    policy = policy_of(response)
    assert policy["frame-ancestors"] == ["'none'"]
    assert scripts_allowed(policy) == ["'self'"]


def test_https_responses_carry_hsts_for_a_year_with_subdomains(client: Client) -> None:
    response = client.get("/api/v1/", secure=True)

    assert response["Strict-Transport-Security"] == f"max-age={ONE_YEAR}; includeSubDomains"


def test_plain_http_is_redirected_to_https_in_production(client: Client, settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True

    response = client.get("/api/v1/")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/api/v1/"


def test_behind_a_trusted_proxy_forwarded_https_is_not_redirected(
    client: Client, settings: Any
) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    response = client.get("/api/v1/", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 401
    assert "Strict-Transport-Security" in response


def test_behind_a_trusted_proxy_the_client_ip_comes_from_x_forwarded_for(settings: Any) -> None:
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.5"
    )

    assert client_ip(request) == "203.0.113.5"


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(settings: Any) -> None:
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.5")

    assert client_ip(request) == "10.0.0.2"


def _no_store(response: HttpResponseBase) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_login_response_is_not_stored(api_client: APIClient, alice: User) -> None:
    response = api_client.post(
        "/api/v1/dj-rest-auth/login/",
        {"username": "alice", "password": PASSWORD},
        format="json",
    )

    assert response.status_code == 200
    assert _no_store(response)


def test_failed_login_response_is_not_stored(api_client: APIClient, alice: User) -> None:
    response = api_client.post(
        "/api/v1/dj-rest-auth/login/",
        {"username": "alice", "password": "wrong password"},
        format="json",
    )

    assert response.status_code == 400
    assert _no_store(response)


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("get", "/api/v1/dj-rest-auth/user/", 200),
        ("get", "/api/v1/dj-rest-auth/tokens/", 200),
        ("post", "/api/v1/dj-rest-auth/logout/", 200),
    ],
)
def test_signed_in_auth_responses_are_not_stored(
    alice_client: APIClient, method: str, url: str, status: int
) -> None:
    response = getattr(alice_client, method)(url)

    assert response.status_code == status
    assert _no_store(response)


def test_password_reset_response_is_not_stored(api_client: APIClient, alice: User) -> None:
    response = api_client.post(
        "/api/v1/dj-rest-auth/password/reset/", {"email": "alice@example.com"}, format="json"
    )

    assert response.status_code == 200
    assert _no_store(response)


@pytest.mark.parametrize("url", ["/api-auth/login/", "/admin/login/"])
def test_login_pages_are_not_stored(client: Client, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 200
    assert _no_store(response)


def test_the_post_list_is_not_marked_no_store(alice_client: APIClient) -> None:
    response = alice_client.get("/api/v1/")

    assert response.status_code == 200
    assert not _no_store(response)


# --- Cookies of a browser login ---------------------------------------------------------------


def csrf_token_from(html: bytes) -> str:
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1).decode()


def form_login(browser: Client) -> HttpResponseBase:
    """Sign in through the browsable API's login form, as a browser does."""
    page = browser.get("/api-auth/login/")
    response = browser.post(
        "/api-auth/login/",
        {
            "username": "alice",
            "password": PASSWORD,
            "next": "/api/v1/",
            "csrfmiddlewaretoken": csrf_token_from(page.content),
        },
    )
    assert response.status_code == 302, response.content
    return response


def test_browser_login_sets_secure_httponly_lax_cookies(
    alice: User, settings: Any, client: Client
) -> None:
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True

    response = form_login(client)

    session = response.cookies["sessionid"]
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"
    csrf = response.cookies["csrftoken"]
    assert csrf["secure"] is True
    assert csrf["samesite"] == "Lax"


# --- CSRF on session-authenticated unsafe requests --------------------------------------------


@pytest.fixture
def browser(alice: User) -> Client:
    """alice in a browser: signed in by the login form, CSRF enforced."""
    browser = Client(enforce_csrf_checks=True)
    form_login(browser)
    return browser


@pytest.fixture
def post(alice: User) -> Post:
    return Post.objects.create(author=alice, title="Original", body="Untouched")


def _state(alice: User) -> tuple[object, ...]:
    return (
        list(Post.objects.values_list("id", "title", "body")),
        DeviceToken.objects.filter(user=alice).count(),
    )


UNSAFE_REQUESTS: list[tuple[str, Callable[[Post], str], dict[str, str], int]] = [
    ("post", lambda post: "/api/v1/", {"title": "New", "body": "Posted"}, 201),
    ("put", lambda post: f"/api/v1/{post.pk}/", {"title": "Replaced", "body": "Put"}, 200),
    ("patch", lambda post: f"/api/v1/{post.pk}/", {"title": "Patched"}, 200),
    ("delete", lambda post: f"/api/v1/{post.pk}/", {}, 204),
    ("post", lambda post: "/api/v1/dj-rest-auth/logout-all/", {}, 200),
]


@pytest.mark.parametrize(("method", "url", "data", "status"), UNSAFE_REQUESTS)
def test_session_unsafe_request_without_csrf_token_is_refused(
    browser: Client,
    alice: User,
    post: Post,
    method: str,
    url: Callable[[Post], str],
    data: dict[str, str],
    status: int,
) -> None:
    login(APIClient(), "alice")
    before = _state(alice)

    response = getattr(browser, method)(url(post), data, content_type="application/json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert _state(alice) == before
    assert browser.get("/api/v1/").status_code == 200


@pytest.mark.parametrize(("method", "url", "data", "status"), UNSAFE_REQUESTS)
def test_session_unsafe_request_with_csrf_header_succeeds(
    browser: Client,
    post: Post,
    method: str,
    url: Callable[[Post], str],
    data: dict[str, str],
    status: int,
) -> None:
    response = getattr(browser, method)(
        url(post),
        data,
        content_type="application/json",
        HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value,
    )

    assert response.status_code == status, response.content


def test_token_request_needs_no_csrf_token(browser: Client, alice: User) -> None:
    key = login(APIClient(), "alice")

    # The browser's session cookie rides along; the token authenticates, so CSRF does not apply.
    response = browser.post(
        "/api/v1/",
        {"title": "By token", "body": "No CSRF"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )

    assert response.status_code == 201, response.content
    assert Post.objects.get().author == alice
