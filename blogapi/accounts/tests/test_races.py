"""Races through a live server with real threads: one winner, no 5xx, nothing half-written."""

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings as django_settings
from django.core import mail

from blogapi.accounts.models import User
from conftest import PASSWORD, fullwidth

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _generous_limits(settings: Any) -> None:
    settings.RATE_LIMITS = {scope: "1000/60" for scope in django_settings.RATE_LIMITS}


def post_json(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 - the test's own live server
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def all_at_once(calls: list[Callable[[], tuple[int, Any]]]) -> list[tuple[int, Any]]:
    """Run the calls in threads released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    results: list[tuple[int, Any]] = [(0, None)] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except Exception as error:  # shown in the assertion, not lost in a thread
            results[index] = (-1, repr(error))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def registration(live_server: Any, username: str, email: str) -> Callable[[], tuple[int, Any]]:
    body = {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD}
    return lambda: post_json(f"{live_server.url}/api/v1/dj-rest-auth/registration/", body)


def test_simultaneous_registrations_of_one_username_make_one_user(live_server: Any) -> None:
    results = all_at_once(
        [registration(live_server, "dupe", f"dupe{i}@example.com") for i in range(8)]
    )

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [400] * 7, results
    assert User.objects.filter(username__iexact="dupe").count() == 1
    assert EmailAddress.objects.count() == 1


def test_simultaneous_registrations_of_spellings_of_one_username_make_one_user(
    live_server: Any,
) -> None:
    spellings = [
        "dupe",
        "DUPE",
        "Dupe",
        fullwidth("dupe"),
        fullwidth("DUPE"),
        "dUpE",
        f"{fullwidth('d')}upe",
        f"DUP{fullwidth('e')}",
    ]
    results = all_at_once(
        [
            registration(live_server, spelling, f"dupe{i}@example.com")
            for i, spelling in enumerate(spellings)
        ]
    )

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [400] * 7, results
    assert User.objects.count() == 1
    assert all(
        body == {"username": ["A user with that username already exists."]}
        for status, body in results
        if status == 400
    ), results


def test_simultaneous_registrations_of_one_address_make_one_user(live_server: Any) -> None:
    results = all_at_once(
        [registration(live_server, f"user{i}", "same@example.com") for i in range(8)]
    )

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [400] * 7, results
    assert User.objects.count() == 1
    assert EmailAddress.objects.count() == 1


def test_simultaneous_confirms_of_one_reset_link_succeed_once(
    live_server: Any, alice: User
) -> None:
    post_json(
        f"{live_server.url}/api/v1/dj-rest-auth/password/reset/", {"email": "alice@example.com"}
    )
    match = re.search(r"/confirm/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/", str(mail.outbox[-1].body))
    assert match
    url = f"{live_server.url}/api/v1/dj-rest-auth/password/reset/confirm/"

    def confirm(i: int) -> Callable[[], tuple[int, Any]]:
        new = f"racing new passphrase {i}"
        body = {
            "uid": match["uid"],
            "token": match["token"],
            "new_password1": new,
            "new_password2": new,
        }
        return lambda: post_json(url, body)

    results = all_at_once([confirm(i) for i in range(6)])

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [400] * 5, results
    winner = next(i for i, (status, _) in enumerate(results) if status == 200)
    alice.refresh_from_db()
    assert alice.check_password(f"racing new passphrase {winner}")


def test_simultaneous_confirms_of_one_email_key_succeed_once(live_server: Any) -> None:
    assert registration(live_server, "carol", "carol@example.com")()[0] == 201
    match = re.search(r"account-confirm-email/(?P<key>[^/\s]+)/", str(mail.outbox[-1].body))
    assert match
    url = f"{live_server.url}/api/v1/dj-rest-auth/registration/verify-email/"

    results = all_at_once([lambda: post_json(url, {"key": match["key"]}) for _ in range(6)])

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [400] * 5, results
    assert EmailAddress.objects.get(email="carol@example.com").verified


def test_simultaneous_wrong_logins_get_exactly_the_allowed_password_checks(
    live_server: Any, alice: User, settings: Any
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_failures": "5/300"}
    url = f"{live_server.url}/api/v1/dj-rest-auth/login/"
    body = {"username": "alice", "password": "not the right password"}

    results = all_at_once([lambda: post_json(url, body) for _ in range(20)])

    statuses = sorted(status for status, _ in results)
    assert statuses == [400] * 5 + [429] * 15, results
