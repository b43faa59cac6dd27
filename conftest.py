"""Project-wide fixtures: personas (alice, bob, anon), API clients, and a fast password hasher."""

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.cache import cache
from rest_framework.test import APIClient

from blogapi.accounts.models import User

PASSWORD = "correct horse battery staple"
REPO = Path(__file__).resolve().parent

# Hypothesis (and schemathesis on it) caches constants and Unicode tables in ./.hypothesis/ even
# without an example database: keep them out of the working tree. Read at first use.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "blogapi-hypothesis")
)


def pytest_report_header(config: pytest.Config) -> str:
    from django.conf import settings

    database = settings.DATABASES["default"]
    return f"blogapi: database {database['ENGINE']} ({database['NAME']}), cache " + str(
        settings.CACHES["default"]["BACKEND"]
    )


@pytest.fixture(autouse=True)
def _fast_password_hasher(request: pytest.FixtureRequest, settings: Any) -> None:
    """Tests hash with MD5 for speed; tests marked `slow_hasher` keep the production hashers."""
    if request.node.get_closest_marker("slow_hasher") is None:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Rate-limit counters live in the cache: every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def rates(settings: Any) -> Callable[..., None]:
    """Override some rate limits for one test: rates(login_ip="3/60")."""

    def override(**scopes: str) -> None:
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, **scopes}

    return override


@pytest.fixture
def user_factory(db: None) -> Callable[..., User]:
    """Build a user with a known password and (by default) a verified primary e-mail."""

    def make(
        username: str = "alice",
        *,
        email: str | None = None,
        password: str = PASSWORD,
        email_verified: bool = True,
        **extra: Any,
    ) -> User:
        email = email if email is not None else f"{username}@example.com"
        user = User.objects.create_user(username=username, email=email, password=password, **extra)
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=email_verified)
        return user

    return make


@pytest.fixture
def alice(user_factory: Callable[..., User]) -> User:
    return user_factory("alice")


@pytest.fixture
def bob(user_factory: Callable[..., User]) -> User:
    return user_factory("bob")


@pytest.fixture
def jwt_mode(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """AUTH_JWT=true as the settings module makes it: Bearer first among the authenticators.

    DRF reads DEFAULT_AUTHENTICATION_CLASSES into APIView once, at import; views inherit it.
    """
    from rest_framework.views import APIView

    from blogapi.accounts.authentication import JwtAuthentication

    settings.AUTH_JWT = True
    monkeypatch.setattr(
        APIView, "authentication_classes", [JwtAuthentication, *APIView.authentication_classes]
    )


@pytest.fixture
def api_client() -> APIClient:
    """An anonymous client (anon)."""
    return APIClient()


def login(client: APIClient, login: str, password: str = PASSWORD) -> str:
    """Log in through dj-rest-auth and return the token key."""
    field = "email" if "@" in login else "username"
    response = client.post(
        "/api/v1/dj-rest-auth/login/", {field: login, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return str(response.json()["key"])


def token_client(key: str) -> APIClient:
    """A client that sends only `Authorization: Token <key>` (no cookies)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def alice_client(alice: User) -> APIClient:
    """alice, authenticated with a token from a real login."""
    return token_client(login(APIClient(), "alice"))


@pytest.fixture
def bob_client(bob: User) -> APIClient:
    """bob, authenticated with a token from a real login."""
    return token_client(login(APIClient(), "bob"))


def fullwidth(text: str) -> str:
    """`text` with its ASCII letters and digits full-width (U+FF21...): NFKC maps them back."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


def mailed_link(pattern: str) -> re.Match[str]:
    """The first match of `pattern` in the last sent e-mail's body."""
    assert mail.outbox, "no e-mail was sent"
    match = re.search(pattern, str(mail.outbox[-1].body))
    assert match, f"no link matching {pattern!r} in:\n{mail.outbox[-1].body}"
    return match


def settings_in_subprocess(
    env: dict[str, str], expression: str = "'loaded'"
) -> subprocess.CompletedProcess:
    """Load blogapi.settings in a fresh interpreter with only `env` set; print repr(expression)."""
    code = "import django; django.setup(); from django.conf import settings; "
    code += f"print(repr(({expression})))"
    ours = (
        "DJANGO_",
        "AUTH_",
        "DATABASE_URL",
        "REDIS_URL",
        "EMAIL_URL",
        "FRONTEND_URL",
        "ACCOUNT_",
        "RATE_LIMIT",
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return subprocess.run(  # noqa: S603 - fixed interpreter and code
        [sys.executable, "-c", code],
        env={**clean, "DJANGO_SETTINGS_MODULE": "blogapi.settings", **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
