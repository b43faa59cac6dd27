"""The configuration contract: env vars only, and production refuses to start half-configured."""

import ast

import pytest

from conftest import settings_in_subprocess

GOOD_KEY = "k" * 50
FERNET_KEY = "x" * 43 + "="  # 32 bytes, url-safe base64
SMTP = "smtp+tls://user:password@smtp.example.com:587"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_ALLOWED_HOSTS": "api.example.com"}, "DJANGO_SECRET_KEY must be set"),
        ({"DJANGO_SECRET_KEY": "short", "DJANGO_ALLOWED_HOSTS": "x"}, "at least 50 characters"),
        ({"DJANGO_SECRET_KEY": GOOD_KEY}, "DJANGO_ALLOWED_HOSTS must be set"),
        (
            {"DJANGO_SECRET_KEY": GOOD_KEY, "DJANGO_ALLOWED_HOSTS": "x", "FRONTEND_URL": "app"},
            "FRONTEND_URL must be an http(s) URL",
        ),
        (
            {"DJANGO_SECRET_KEY": GOOD_KEY, "DJANGO_ALLOWED_HOSTS": "x"},
            "EMAIL_URL must be set when DJANGO_DEBUG is off",
        ),
        (
            {"DJANGO_SECRET_KEY": GOOD_KEY, "DJANGO_ALLOWED_HOSTS": "x", "EMAIL_URL": ""},
            "EMAIL_URL must be set when DJANGO_DEBUG is off",
        ),
        (
            {
                "DJANGO_SECRET_KEY": GOOD_KEY,
                "DJANGO_ALLOWED_HOSTS": "x",
                "EMAIL_URL": SMTP,
                "ACCOUNT_EMAIL_VERIFICATION": "sometimes",
            },
            "ACCOUNT_EMAIL_VERIFICATION must be",
        ),
        (
            {
                "DJANGO_SECRET_KEY": GOOD_KEY,
                "DJANGO_ALLOWED_HOSTS": "x",
                "EMAIL_URL": SMTP,
                "AUTH_TOKEN_TTL": "soon",
            },
            "AUTH_TOKEN_TTL must be a positive duration",
        ),
        (
            {
                "DJANGO_SECRET_KEY": GOOD_KEY,
                "DJANGO_ALLOWED_HOSTS": "x",
                "EMAIL_URL": SMTP,
                "AUTH_TOKEN_IDLE_TTL": "0",
            },
            "AUTH_TOKEN_IDLE_TTL must be a positive duration",
        ),
        (
            {
                "DJANGO_SECRET_KEY": GOOD_KEY,
                "DJANGO_ALLOWED_HOSTS": "x",
                "EMAIL_URL": SMTP,
                "AUTH_SESSION_IDLE_TTL": "soon",
            },
            "AUTH_SESSION_IDLE_TTL must be a positive duration",
        ),
        (
            {
                "DJANGO_SECRET_KEY": GOOD_KEY,
                "DJANGO_ALLOWED_HOSTS": "x",
                "EMAIL_URL": SMTP,
                "AUTH_SESSION_IDLE_TTL": "60",
                "AUTH_TOKEN_TOUCH_INTERVAL": "60",
            },
            "AUTH_SESSION_IDLE_TTL must be longer than AUTH_TOKEN_TOUCH_INTERVAL",
        ),
        (
            {
                "DJANGO_SECRET_KEY": GOOD_KEY,
                "DJANGO_ALLOWED_HOSTS": "x",
                "EMAIL_URL": SMTP,
                "AUTH_TOKEN_MAX_PER_USER": "0",
            },
            "AUTH_TOKEN_MAX_PER_USER must be a whole number",
        ),
    ],
)
def test_production_refuses_to_start_misconfigured(env: dict[str, str], message: str) -> None:
    result = settings_in_subprocess(env)

    assert result.returncode != 0
    assert message in result.stderr


def test_production_starts_with_secret_key_hosts_and_mail() -> None:
    result = settings_in_subprocess(
        {
            "DJANGO_SECRET_KEY": GOOD_KEY,
            "DJANGO_ALLOWED_HOSTS": "api.example.com",
            "EMAIL_URL": SMTP,
        },
        "settings.DEBUG, settings.ALLOWED_HOSTS, settings.SESSION_COOKIE_SECURE, "
        "settings.EMAIL_DELIVERY_BACKEND, settings.EMAIL_HOST, settings.EMAIL_USE_TLS",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(
        (
            False,
            ["api.example.com"],
            True,
            "django.core.mail.backends.smtp.EmailBackend",
            "smtp.example.com",
            True,
        )
    )
    assert "EMAIL_URL" not in result.stderr  # no warning: mail is sent


@pytest.mark.parametrize(
    ("url", "fate"),
    [
        ("consolemail://", "printed to the worker's output"),
        ("filemail:///tmp/blogapi-mail", "written to files"),
    ],
)
def test_production_warns_at_start_when_mail_is_not_sent(url: str, fate: str) -> None:
    result = settings_in_subprocess(
        {"DJANGO_SECRET_KEY": GOOD_KEY, "DJANGO_ALLOWED_HOSTS": "x", "EMAIL_URL": url}
    )

    assert result.returncode == 0, result.stderr
    [warning] = [line for line in result.stderr.splitlines() if "EMAIL_URL" in line]
    assert '"level": "WARNING"' in warning
    assert f"reset and confirmation links included, is {fate}" in warning


def test_development_prints_mail_without_a_warning() -> None:
    result = settings_in_subprocess({"DJANGO_DEBUG": "true"}, "settings.EMAIL_DELIVERY_BACKEND")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr("django.core.mail.backends.console.EmailBackend")
    assert "EMAIL_URL" not in result.stderr


def test_development_defaults_need_no_env() -> None:
    result = settings_in_subprocess(
        {"DJANGO_DEBUG": "true"},
        "settings.DATABASES['default']['ENGINE'], settings.EMAIL_DELIVERY_BACKEND, "
        "settings.DATABASES['default']['OPTIONS']['transaction_mode']",
    )

    assert result.returncode == 0, result.stderr
    assert "sqlite3" in result.stdout
    assert "console" in result.stdout
    assert "IMMEDIATE" in result.stdout


def test_urls_configure_database_cache_and_mail() -> None:
    result = settings_in_subprocess(
        {
            "DJANGO_DEBUG": "true",
            "DATABASE_URL": "postgres://u:p@db.internal:5433/blog",
            "REDIS_URL": "redis://cache.internal:6379/0",
            "EMAIL_URL": "smtp://mail.internal:2525",
        },
        "settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['PORT'], "
        "settings.CACHES['default']['BACKEND'], settings.EMAIL_HOST, settings.EMAIL_PORT",
    )

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "'django.db.backends.postgresql'" in out
    assert "5433" in out
    assert "RedisCache" in out
    assert "'mail.internal', 2525" in out


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "30 days, 0:00:00"),
        ("3600", "1:00:00"),
        ("P2D", "2 days, 0:00:00"),
        ("PT12H", "12:00:00"),
        ("1 02:00:00", "1 day, 2:00:00"),
    ],
)
def test_token_lifetime_accepts_seconds_and_iso_durations(value: str, expected: str) -> None:
    result = settings_in_subprocess(
        {"DJANGO_DEBUG": "true", "AUTH_TOKEN_TTL": value}, "str(settings.AUTH_TOKEN_TTL)"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(expected)


@pytest.mark.parametrize(("value", "expected"), [("", "1 day, 0:00:00"), ("PT12H", "12:00:00")])
def test_session_idle_timeout_defaults_to_a_day(value: str, expected: str) -> None:
    result = settings_in_subprocess(
        {"DJANGO_DEBUG": "true", "AUTH_SESSION_IDLE_TTL": value},
        "str(settings.AUTH_SESSION_IDLE_TTL)",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(expected)


PRODUCTION = {
    "DJANGO_SECRET_KEY": GOOD_KEY,
    "DJANGO_ALLOWED_HOSTS": "api.example.com,x",
    "EMAIL_URL": SMTP,
}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RATE_LIMITS": "login_failures=many"}, "A rate is N/seconds"),
        ({"RATE_LIMITS": "logins=5/60"}, "unknown scope 'logins'"),
        ({"RATE_LIMITS": "signup_ip=0/60"}, "A rate is N/seconds"),
        ({"SITE_URL": "api.example.com"}, "SITE_URL must be an http(s) URL"),
        ({"DJANGO_ALLOWED_HOSTS": ".example.com"}, "SITE_URL must be set"),
        ({"DJANGO_SECURE_COOKIES": "ture"}, "DJANGO_SECURE_COOKIES must be true or false"),
        ({"AUTH_JWT": "true"}, "AUTH_JWT_SIGNING_KEY must be set"),
        ({"AUTH_JWT": "true", "AUTH_JWT_SIGNING_KEY": "short"}, "at least 32 characters"),
        (
            {"AUTH_JWT_SIGNING_KEY": "s" * 32, "AUTH_JWT_PREVIOUS_SIGNING_KEYS": "old"},
            "at least 32 characters",
        ),
        ({"AUTH_JWT_COOKIES": "true"}, "AUTH_JWT_COOKIES=true needs AUTH_JWT=true"),
        ({"AUTH_JWT": "yes please"}, "AUTH_JWT must be true or false"),
        ({"AUTH_JWT_ACCESS_TTL": "0"}, "AUTH_JWT_ACCESS_TTL must be a positive duration"),
        (
            {"AUTH_MFA_ENCRYPTION_KEYS": f"{FERNET_KEY},not-a-key"},
            "AUTH_MFA_ENCRYPTION_KEYS: key 2 is not a Fernet key",
        ),
    ],
)
def test_production_refuses_bad_limits_and_urls(env: dict[str, str], message: str) -> None:
    result = settings_in_subprocess({**PRODUCTION, **env})

    assert result.returncode != 0
    assert message in result.stderr


def test_rate_limits_can_be_overridden_one_by_one() -> None:
    result = settings_in_subprocess(
        {**PRODUCTION, "RATE_LIMITS": "login_failures=10/600, signup_ip=5/1h"},
        "settings.RATE_LIMITS['login_failures'], settings.RATE_LIMITS['signup_ip'], "
        "settings.RATE_LIMITS['login_ip']",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "('10/600', '5/1h', '30/60')"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (PRODUCTION, "https://api.example.com"),
        ({**PRODUCTION, "SITE_URL": "https://blog.example.org/"}, "https://blog.example.org"),
        ({"DJANGO_DEBUG": "true", "PORT": "9000"}, "http://127.0.0.1:9000"),
    ],
)
def test_site_url_for_mailed_links_is_configured_not_requested(
    env: dict[str, str], expected: str
) -> None:
    result = settings_in_subprocess(env, "settings.SITE_URL")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(expected)


def test_jwt_mode_puts_bearer_first_and_keeps_keys_and_sessions() -> None:
    result = settings_in_subprocess(
        {**PRODUCTION, "AUTH_JWT": "true", "AUTH_JWT_SIGNING_KEY": "s" * 32},
        "settings.REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES']",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(
        [
            "blogapi.accounts.authentication.JwtAuthentication",
            "blogapi.accounts.authentication.DeviceTokenAuthentication",
            "rest_framework.authentication.SessionAuthentication",
        ]
    )


def test_debug_derives_a_jwt_key_of_its_own() -> None:
    result = settings_in_subprocess(
        {"DJANGO_DEBUG": "true", "AUTH_JWT": "true"},
        "len(settings.AUTH_JWT_SIGNING_KEY) >= 32, "
        "settings.AUTH_JWT_SIGNING_KEY != settings.SECRET_KEY",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(True, True)"


def test_mfa_encryption_keys_are_read_in_order() -> None:
    result = settings_in_subprocess(
        {**PRODUCTION, "AUTH_MFA_ENCRYPTION_KEYS": f" {FERNET_KEY} , {'y' * 43}= "},
        "settings.AUTH_MFA_ENCRYPTION_KEYS",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr([FERNET_KEY, "y" * 43 + "="])


def test_the_default_mfa_encryption_key_is_derived_from_the_secret_key() -> None:
    def default_keys(secret_key: str) -> list[str]:
        result = settings_in_subprocess(
            {**PRODUCTION, "DJANGO_SECRET_KEY": secret_key}, "settings.AUTH_MFA_ENCRYPTION_KEYS"
        )
        assert result.returncode == 0, result.stderr
        return list(ast.literal_eval(result.stdout.strip()))

    first, again, other = default_keys(GOOD_KEY), default_keys(GOOD_KEY), default_keys("j" * 50)

    assert len(first) == 1
    assert first == again  # stable across restarts: the stored secrets stay readable
    assert first != other
    assert GOOD_KEY not in first[0]
