"""Rates such as '5/300' (five per 300 seconds), parsed without touching Django models."""

import re
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Rate:
    """At most `limit` hits per `window` seconds."""

    limit: int
    window: int


def parse_rate(text: str) -> Rate:
    """'5/300' (five per 300 seconds); the window may end in s, m or h: '5/5m'."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*([smh]?)\s*", text)
    if not match or int(match[1]) < 1 or int(match[2]) < 1:
        raise ImproperlyConfigured(f"A rate is N/seconds (5/300) or N/window (5/5m), not {text!r}.")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600}[match[3]]
    return Rate(limit=int(match[1]), window=int(match[2]) * unit)
