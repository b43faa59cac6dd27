"""Who is calling: the client's IP address, by the proxy-trust rules the rate limits use."""

import ipaddress

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.http import HttpRequest

# Stored where an IP is required but none is known (no REMOTE_ADDR, e.g. an internal request).
UNKNOWN_IP = "0.0.0.0"  # noqa: S104 - a placeholder value, nothing binds to it


def client_ip(request: HttpRequest) -> str | None:
    """The caller's IP, by the same proxy-trust rules allauth uses for its rate limits."""
    try:
        return str(get_adapter(request).get_client_ip(request))
    except Exception:  # allauth raises PermissionDenied when it cannot tell
        return None


def ip_rate_limit_key(ip: str) -> str:
    """Who a per-IP budget counts: an IPv4 client by address, an IPv6 client by its network.

    One IPv6 host usually holds a whole /64 (SLAAC, privacy addresses), so a budget per address
    would be one per guess; the prefix is RATE_LIMIT_IPV6_PREFIX. An IPv4-mapped IPv6 address
    (::ffff:a.b.c.d, from a dual-stack socket) is the IPv4 client it maps. Logs and devices keep
    the full address (client_ip); only the budgets are keyed by network.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:  # client_ip answers only valid addresses; anything else counts as is
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        prefix = settings.RATE_LIMIT_IPV6_PREFIX
        return str(ipaddress.IPv6Network((address, prefix), strict=False))
    return str(address)
