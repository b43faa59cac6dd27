"""Per-IP budgets: an IPv4 client by its address, an IPv6 client by its network (a /64)."""

import logging
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from blogapi.accounts.models import DeviceToken, User
from conftest import PASSWORD, settings_in_subprocess, token_client

LOGIN = "/api/v1/dj-rest-auth/login/"
WRONG = "not the right password"


def login_from(address: str, password: str = WRONG, **headers: Any) -> int:
    """A JSON login for alice from `address` (REMOTE_ADDR); its status code."""
    body = {"username": "alice", "password": password}
    response = APIClient().post(LOGIN, body, format="json", REMOTE_ADDR=address, **headers)
    return int(response.status_code)


def spend_ip_budget(*addresses: str) -> None:
    """One failed login from each address; the budget is login_ip=2/60 (see `budget`)."""
    for address in addresses:
        assert login_from(address) == 400


@pytest.fixture
def budget(alice: User, rates: Callable[..., None]) -> None:
    """Two password checks per IP budget (and plenty per account)."""
    rates(login_ip="2/60", login_failures="100/300")


@pytest.mark.usefixtures("budget")
def test_addresses_of_one_ipv6_64_share_one_budget() -> None:
    spend_ip_budget("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe")

    assert login_from("2001:db8:1:2:abcd::9") == 429
    assert login_from("2001:db8:1:2::1", PASSWORD) == 429


@pytest.mark.usefixtures("budget")
def test_ipv6_addresses_in_different_64s_have_budgets_of_their_own() -> None:
    spend_ip_budget("2001:db8:1:2::1", "2001:db8:1:2::2")

    assert login_from("2001:db8:1:3::1") == 400
    assert login_from("2001:db8:1:1:ffff:ffff:ffff:ffff", PASSWORD) == 200


@pytest.mark.usefixtures("budget")
def test_ipv4_clients_are_counted_by_address() -> None:
    spend_ip_budget("203.0.113.5", "203.0.113.5")

    assert login_from("203.0.113.5") == 429
    assert login_from("203.0.113.6", PASSWORD) == 200


@pytest.mark.usefixtures("budget")
def test_an_ipv4_mapped_ipv6_address_is_the_ipv4_client() -> None:
    spend_ip_budget("::ffff:203.0.113.5", "203.0.113.5")

    assert login_from("::ffff:cb00:7105") == 429  # the same address, written in hex
    # Another IPv4 client, mapped or not, is not in that budget (nor in a shared ::/64).
    assert login_from("::ffff:203.0.113.6", PASSWORD) == 200
    assert login_from("203.0.113.7", PASSWORD) == 200


@pytest.mark.parametrize(
    ("prefix", "same", "other"),
    [
        (48, "2001:db8:1:ffff::1", "2001:db8:2::1"),
        (128, "2001:db8:1:2::1", "2001:db8:1:2::2"),
        (1, "7fff::1", "8000::1"),
    ],
)
@pytest.mark.usefixtures("budget")
def test_the_ipv6_prefix_length_is_configurable(
    settings: Any, prefix: int, same: str, other: str
) -> None:
    settings.RATE_LIMIT_IPV6_PREFIX = prefix
    first = "2001:db8:1:2::1" if prefix != 1 else "::1"
    spend_ip_budget(first, first)

    assert login_from(same) == 429
    assert login_from(other, PASSWORD) == 200


@pytest.mark.usefixtures("budget")
def test_behind_a_trusted_proxy_the_forwarded_ipv6_client_is_keyed_by_its_64(
    settings: Any,
) -> None:
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    for client in ("2001:db8:1:2::1", "2001:db8:1:2::2"):
        assert login_from("10.0.0.2", HTTP_X_FORWARDED_FOR=client) == 400

    assert login_from("10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9, 2001:db8:1:2::3") == 429
    assert login_from("10.0.0.2", PASSWORD, HTTP_X_FORWARDED_FOR="2001:db8:1:3::1") == 200
    # The proxy's own address is not the client: another client behind it is not refused.
    assert login_from("10.0.0.2", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9") == 200


@pytest.mark.usefixtures("budget")
def test_behind_a_trusted_proxy_a_forwarded_ipv4_mapped_client_is_the_ipv4_client(
    settings: Any,
) -> None:
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    spend_ip_budget("::ffff:203.0.113.5")
    assert login_from("10.0.0.2", HTTP_X_FORWARDED_FOR="::ffff:203.0.113.5") == 400

    assert login_from("10.0.0.2", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.5") == 429


def test_every_per_ip_budget_counts_an_ipv6_client_by_its_64(
    alice: User, rates: Callable[..., None]
) -> None:
    rates(token_failures_ip="2/60")
    unknown = token_client("blogapi_" + "A" * 43)
    for address in ("2001:db8:1:2::1", "2001:db8:1:2::2"):
        assert unknown.get("/api/v1/", REMOTE_ADDR=address).status_code == 401

    assert unknown.get("/api/v1/", REMOTE_ADDR="2001:db8:1:2::3").status_code == 429
    assert unknown.get("/api/v1/", REMOTE_ADDR="2001:db8:1:3::1").status_code == 401


def test_logs_and_devices_keep_the_full_ipv6_address(
    alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="blogapi.request")

    assert login_from("2001:db8:1:2::abcd", PASSWORD) == 200

    assert DeviceToken.objects.get(user=alice).last_ip == "2001:db8:1:2::abcd"
    [line] = [r for r in caplog.records if r.name == "blogapi.request"]
    assert line.__dict__["client_ip"] == "2001:db8:1:2::abcd"


@pytest.mark.parametrize(("value", "expected"), [("", 64), ("48", 48), ("128", 128), ("1", 1)])
def test_the_ipv6_prefix_setting_reads_1_to_128(value: str, expected: int) -> None:
    result = settings_in_subprocess(
        {"DJANGO_DEBUG": "true", "RATE_LIMIT_IPV6_PREFIX": value}, "settings.RATE_LIMIT_IPV6_PREFIX"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(expected)


@pytest.mark.parametrize("value", ["0", "129", "-1", "64.0", "/64", "sixty-four", "٦٤"])
def test_a_bad_ipv6_prefix_refuses_to_start(value: str) -> None:
    result = settings_in_subprocess({"DJANGO_DEBUG": "true", "RATE_LIMIT_IPV6_PREFIX": value})

    assert result.returncode != 0
    assert "RATE_LIMIT_IPV6_PREFIX must be a whole number from 1 to 128" in result.stderr
