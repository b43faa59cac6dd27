"""Typed readers for environment variables that django-environ does not parse."""

from datetime import timedelta

import environ
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
