"""Typed readers for environment variables that django-environ does not parse."""

import base64
from datetime import timedelta

import environ
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.exceptions import ImproperlyConfigured
from django.utils.dateparse import parse_duration

from blogapi.core.rates import parse_rate


def env_duration(env: environ.Env, name: str, default: timedelta) -> timedelta:
    """A positive duration: seconds (`3600`), `D HH:MM:SS` (`7 00:00:00`) or ISO 8601 (`P30D`)."""
    raw = env.str(name, default="")
    if not raw:
        return default
    value = parse_duration(raw.strip())
    if value is None or value <= timedelta(0):
        raise ImproperlyConfigured(
            f"{name} must be a positive duration: seconds (3600), 'D HH:MM:SS' or ISO 8601 (P30D)."
        )
    return value


def env_positive_int(env: environ.Env, name: str, default: int) -> int:
    """A whole number ≥ 1; anything else refuses to start."""
    value = env_count(env, name, default=default)
    if value < 1:
        raise ImproperlyConfigured(f"{name} must be a whole number of at least 1.")
    return value


def env_rate_limits(env: environ.Env, name: str, defaults: dict[str, str]) -> dict[str, str]:
    """The default rates, with overrides like `login_failures=10/600,signup_ip=5/1h`."""
    rates = dict(defaults)
    for item in env.list(name, default=[]):
        scope, _, rate = item.partition("=")
        if scope.strip() not in defaults:
            known = ", ".join(sorted(defaults))
            raise ImproperlyConfigured(f"{name}: unknown scope {scope.strip()!r} (known: {known}).")
        parse_rate(rate)
        rates[scope.strip()] = rate.strip()
    return rates


def env_flag(env: environ.Env, name: str, *, default: bool) -> bool:
    """true/false (or 1/0, yes/no, on/off); anything else refuses to start.

    django-environ's env.bool reads a typo such as 'ture' as false: a security switch must not
    fail open.
    """
    raw = env.str(name, default="").strip().lower()
    if not raw:
        return default
    if raw in ("true", "1", "yes", "on"):
        return True
    if raw in ("false", "0", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def env_count(env: environ.Env, name: str, *, default: int) -> int:
    """A whole number ≥ 0; anything else refuses to start."""
    raw = env.str(name, default="").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise ImproperlyConfigured(f"{name} must be a whole number of at least 0, not {raw!r}.")
    return int(raw)


def env_int_between(env: environ.Env, name: str, *, default: int, low: int, high: int) -> int:
    """A whole number from `low` to `high`; anything else refuses to start."""
    raw = env.str(name, default="").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit() and low <= int(raw) <= high):
        raise ImproperlyConfigured(
            f"{name} must be a whole number from {low} to {high}, not {raw!r}."
        )
    return int(raw)


def derived_fernet_key(secret: str, *, purpose: str) -> str:
    """A Fernet key derived from `secret` for one purpose only (HKDF-SHA256, `purpose` as info)."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(key).decode()


def env_fernet_keys(env: environ.Env, name: str, *, default: str) -> list[str]:
    """Comma-separated Fernet keys (the first encrypts, all decrypt); unset → `[default]`.

    A key that is not 32 url-safe base64 bytes refuses to start: a typo must not lock every
    stored secret out at the first request.
    """
    keys = [key.strip() for key in env.list(name, default=[]) if key.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: key {position} is not a Fernet key (32 url-safe base64-encoded bytes, "
                "e.g. from cryptography.fernet.Fernet.generate_key())."
            ) from None
    return keys or [default]
