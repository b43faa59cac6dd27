"""Deletions racing sign-ins, through a live server with real threads: one clean outcome, no 5xx."""

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from blogapi.accounts.models import AccountDeletion, DeviceToken, User
from blogapi.accounts.services.deletion import account_deletions_purge
from blogapi.accounts.tests.test_races import all_at_once, post_json
from blogapi.posts.models import Post
from conftest import PASSWORD, login

pytestmark = pytest.mark.django_db(transaction=True)

SIGN_INS = 4


@pytest.fixture(autouse=True)
def _generous_limits(settings: Any) -> None:
    from django.conf import settings as django_settings

    settings.RATE_LIMITS = {scope: "1000/60" for scope in django_settings.RATE_LIMITS}


def due_for_erasure(user_factory: Callable[..., User], username: str) -> User:
    user = user_factory(username)
    Post.objects.bulk_create(Post(author=user, title="t", body="b") for _ in range(20))
    now = timezone.now()
    AccountDeletion.objects.create(
        user=user, requested_at=now - timedelta(days=8), erase_at=now - timedelta(days=1)
    )
    return user


def purge_in_thread() -> tuple[int, Any]:
    try:
        return 0, account_deletions_purge()
    finally:
        connection.close()  # the thread's own connection


def sign_in(live_server: Any, username: str) -> Callable[[], tuple[int, Any]]:
    body = {"username": username, "password": PASSWORD}
    return lambda: post_json(f"{live_server.url}/api/v1/dj-rest-auth/login/", body)


@pytest.mark.parametrize("round_number", range(4))
def test_sign_ins_racing_the_purge_either_all_win_or_all_lose(
    live_server: Any, user_factory: Callable[..., User], round_number: int
) -> None:
    user = due_for_erasure(user_factory, f"racer{round_number}")

    results = all_at_once([*[sign_in(live_server, user.username)] * SIGN_INS, purge_in_thread])

    sign_ins, (_, erased) = results[:SIGN_INS], results[SIGN_INS]
    statuses = sorted(status for status, _ in sign_ins)
    if User.objects.filter(pk=user.pk).exists():
        # A sign-in came first: it cancelled the deletion, the purge left the account alone.
        assert erased == 0, results
        assert statuses == [200] * SIGN_INS, results
        assert not AccountDeletion.objects.filter(user=user).exists()
        assert Post.objects.filter(author=user).count() == 20
        assert DeviceToken.objects.filter(user=user).count() == SIGN_INS
    else:
        # The purge came first: every sign-in was refused cleanly, nothing names the account.
        assert erased == 1, results
        assert all(status in (400, 401, 403) for status in statuses), results
        assert not Post.objects.filter(author_id=user.pk).exists()
        assert not DeviceToken.objects.filter(user_id=user.pk).exists()


def test_purges_running_at_once_erase_each_account_once(
    user_factory: Callable[..., User],
) -> None:
    users = [due_for_erasure(user_factory, f"gone{n}") for n in range(3)]

    results = all_at_once([purge_in_thread] * 3)

    assert sum(erased for _, erased in results) == 3, results
    assert not User.objects.filter(pk__in=[u.pk for u in users]).exists()


def delete_with(live_server: Any, key: str) -> Callable[[], tuple[int, Any]]:
    def call() -> tuple[int, Any]:
        request = urllib.request.Request(  # noqa: S310 - the test's own live server
            f"{live_server.url}/api/v1/dj-rest-auth/delete/",
            data=json.dumps({"password": PASSWORD}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Token {key}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    return call


@pytest.mark.parametrize("round_number", range(4))
def test_a_deletion_racing_sign_ins_never_leaves_a_pending_account_signed_in(
    live_server: Any, user_factory: Callable[..., User], round_number: int
) -> None:
    user = user_factory(f"leaver{round_number}")
    key = login(APIClient(), user.username)

    results = all_at_once(
        [delete_with(live_server, key), *[sign_in(live_server, user.username)] * 3]
    )

    assert [status for status, _ in results] == [202, 200, 200, 200], results
    tokens = DeviceToken.objects.filter(user=user).count()
    if AccountDeletion.objects.filter(user=user).exists():
        assert tokens == 0, results  # every sign-in came first, and the request ended them all
    else:
        assert tokens >= 1, results  # a sign-in came after the request, and cancelled it
