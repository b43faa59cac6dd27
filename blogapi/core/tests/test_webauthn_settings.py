"""Passkey settings: the relying party and its origins from env, checked at start-up."""

import pytest

from blogapi.core.webauthn_config import webauthn_settings_check
from conftest import settings_in_subprocess

PRODUCTION = {
    "DJANGO_SECRET_KEY": "k" * 50,
    "DJANGO_ALLOWED_HOSTS": "api.example.com",
    "EMAIL_URL": "smtp+tls://user:password@smtp.example.com:587",
}
RP = "settings.AUTH_WEBAUTHN_RP_ID, settings.AUTH_WEBAUTHN_ORIGINS"


@pytest.mark.parametrize(
    ("rp_id", "origins"),
    [
        ("example.com", ["https://example.com"]),
        ("example.com", ["https://app.example.com", "https://www.example.com:8443"]),
        ("localhost", ["http://localhost:8000"]),
    ],
)
def test_good_relying_parties_pass(rp_id: str, origins: list[str]) -> None:
    webauthn_settings_check(rp_id=rp_id, origins=origins)


@pytest.mark.parametrize(
    ("rp_id", "origins", "message"),
    [
        ("127.0.0.1", ["https://127.0.0.1"], "must be a domain name"),
        ("[::1]", ["https://[::1]"], "must be a domain name"),
        ("", ["https://example.com"], "must be a domain name"),
        ("example.com:443", ["https://example.com"], "must be a domain name"),
        ("example.com", [], "at least one origin"),
        ("example.com", ["http://example.com"], "must use https"),
        ("example.com", ["https://example.com/app"], "is not an origin"),
        ("example.com", ["example.com"], "is not an origin"),
        ("example.com", ["https://evil.com"], "is not on AUTH_WEBAUTHN_RP_ID"),
        ("example.com", ["https://notexample.com"], "is not on AUTH_WEBAUTHN_RP_ID"),
    ],
)
def test_bad_relying_parties_are_refused(rp_id: str, origins: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        webauthn_settings_check(rp_id=rp_id, origins=origins)


def test_defaults_follow_the_front_end() -> None:
    result = settings_in_subprocess({**PRODUCTION, "FRONTEND_URL": "https://app.example.com/"}, RP)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(("app.example.com", ["https://app.example.com"]))


def test_production_refuses_to_start_with_a_bad_relying_party() -> None:
    result = settings_in_subprocess(
        {
            **PRODUCTION,
            "AUTH_WEBAUTHN_RP_ID": "example.com",
            "AUTH_WEBAUTHN_ORIGINS": "http://x.com",
        }
    )

    assert result.returncode != 0
    assert "AUTH_WEBAUTHN_ORIGINS: 'http://x.com' must use https" in result.stderr


def test_an_ip_address_site_leaves_passkeys_off() -> None:
    result = settings_in_subprocess({**PRODUCTION, "SITE_URL": "http://127.0.0.1"}, RP)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(("", []))
