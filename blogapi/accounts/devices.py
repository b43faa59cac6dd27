"""The device a request comes from: its User-Agent, and a human label for it."""

import re

from django.http import HttpRequest

USER_AGENT_MAX_LENGTH = 256

# A handful of patterns is enough for a label a person recognises ("Firefox on Linux");
# a full user-agent database (ua-parser) would be a large dependency for a display string.
_BROWSERS = [
    ("Edge", r"Edg(e|A|iOS)?/"),
    ("Opera", r"OPR/|Opera"),
    ("Firefox", r"Firefox/|FxiOS/"),
    ("Chrome", r"Chrome/|CriOS/"),
    ("Safari", r"Safari/"),
]
_SYSTEMS = [
    ("Android", r"Android"),
    ("iOS", r"iPhone|iPad|iPod"),
    ("Windows", r"Windows"),
    ("macOS", r"Mac OS X|Macintosh"),
    ("Linux", r"Linux|X11"),
]


def user_agent(request: HttpRequest) -> str:
    """The User-Agent header as printable text, at most USER_AGENT_MAX_LENGTH characters."""
    # PostgreSQL refuses NUL in text (a 500), and control characters only garble admin pages.
    agent = "".join(c for c in str(request.META.get("HTTP_USER_AGENT", "")) if c.isprintable())
    return agent[:USER_AGENT_MAX_LENGTH]


def device_label(agent: str) -> str:
    """'Firefox on Linux', 'curl/8.5.0', … or 'Unknown device'."""
    browser = next((name for name, rx in _BROWSERS if re.search(rx, agent)), None)
    system = next((name for name, rx in _SYSTEMS if re.search(rx, agent)), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return str(browser or system)
    product = agent.split(" ", 1)[0].strip()
    return product[:100] if product.isprintable() and product else "Unknown device"
