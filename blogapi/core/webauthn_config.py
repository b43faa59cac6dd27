"""Checks of the WebAuthn relying-party settings, run at start-up (settings fail fast on them)."""

import ipaddress
from urllib.parse import urlsplit


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _is_localhost(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def webauthn_settings_check(*, rp_id: str, origins: list[str]) -> None:
    """Raise ValueError unless `rp_id` is a domain and every origin is a page of it that a
    browser lets use WebAuthn (https, or http on localhost, which browsers treat as secure)."""
    if not rp_id or is_ip_address(rp_id) or "/" in rp_id or ":" in rp_id:
        raise ValueError(
            "AUTH_WEBAUTHN_RP_ID must be a domain name (browsers refuse IP addresses), "
            f"not {rp_id!r}."
        )
    if not origins:
        raise ValueError("AUTH_WEBAUTHN_ORIGINS must name at least one origin.")
    for origin in origins:
        parts = urlsplit(origin)
        host = parts.hostname or ""
        if (
            parts.path
            or parts.query
            or parts.fragment
            or not host
            or parts.scheme not in ("http", "https")
        ):
            raise ValueError(
                f"AUTH_WEBAUTHN_ORIGINS: {origin!r} is not an origin like https://app.example.com."
            )
        if parts.scheme == "http" and not _is_localhost(host):
            raise ValueError(
                f"AUTH_WEBAUTHN_ORIGINS: {origin!r} must use https (plain http only on localhost)."
            )
        if host != rp_id and not host.endswith("." + rp_id):
            raise ValueError(
                f"AUTH_WEBAUTHN_ORIGINS: {origin!r} is not on AUTH_WEBAUTHN_RP_ID {rp_id!r} "
                "or one of its subdomains."
            )
