"""Typed readers for environment variables that django-environ does not parse."""

from datetime import timedelta

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.dateparse import parse_duration


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
    """A whole number ≥ 1."""
    value = env.int(name, default=default)
    if value < 1:
        raise ImproperlyConfigured(f"{name} must be a whole number of at least 1.")
    return int(value)
