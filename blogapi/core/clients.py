"""Who is calling: the client's IP address, by the proxy-trust rules the rate limits use."""

from allauth.account.adapter import get_adapter
from django.http import HttpRequest

# Stored where an IP is required but none is known (no REMOTE_ADDR, e.g. an internal request).
UNKNOWN_IP = "0.0.0.0"  # noqa: S104 - a placeholder value, nothing binds to it


def client_ip(request: HttpRequest) -> str | None:
    """The caller's IP, by the same proxy-trust rules allauth uses for its rate limits."""
    try:
        return str(get_adapter(request).get_client_ip(request))
    except Exception:  # allauth raises PermissionDenied when it cannot tell
        return None
